#include "tune/study_files.hpp"

#include <algorithm>
#include <string_view>

#include "core/utf8.hpp"
#include "hpo/storage.hpp"

namespace krill::tune {

namespace fs = std::filesystem;

namespace {

// The number N of "<head><N><tail>", or -1.
int64_t number_in(std::string_view text, std::string_view head, std::string_view tail) {
  if (text.size() <= head.size() + tail.size() || !text.starts_with(head) ||
      !text.ends_with(tail)) {
    return -1;
  }
  const std::string_view digits = text.substr(head.size(), text.size() - head.size() - tail.size());
  if (digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::stoll(std::string(digits));
}

// {N, S} of "member-<N>.step-<S>.state", or {-1, -1}.
std::pair<int64_t, int64_t> member_step_in(std::string_view rest) {
  const size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return {-1, -1};
  const int64_t number = number_in(rest.substr(0, dot + 1), "member-", ".");
  const int64_t step = number_in(rest.substr(dot + 1), "step-", ".state");
  if (number < 0 || step < 0) return {-1, -1};
  return {number, step};
}

// Whether `rest` is "trial-<N>.ckpt", "member-<N>.step-<S>.state" or an earlier krill's
// "member-<N>.state", optionally with ".tmp".
bool is_study_file_suffix(std::string_view rest) {
  if (rest.ends_with(".tmp")) rest.remove_suffix(4);
  return number_in(rest, "trial-", ".ckpt") >= 0 || number_in(rest, "member-", ".state") >= 0 ||
         member_step_in(rest).first >= 0;
}

// Visits the files whose names start with `<prefix>.`, with what follows that.
template <typename Visit>
void files_starting(const fs::path& prefix, Visit visit) {
  const fs::path folder = prefix.has_parent_path() ? prefix.parent_path() : fs::path(".");
  const std::string start = prefix.filename().string() + ".";
  std::error_code ec;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(start)) continue;
    visit(prefix.has_parent_path() ? it->path() : fs::path(name),
          std::string_view(name).substr(start.size()));
  }
}

}  // namespace

std::string study_name_problem(const std::string& name) {
  if (name.empty()) return "an empty name";
  if (name == "." || name == "..") return "'" + name + "'";
  if (name.find('/') != std::string::npos) return "a name with '/'";
  // A file name (NAME_MAX: 255 bytes) holds `<database>.<name>.member-<N>.step-<S>.state.tmp`.
  if (name.size() > kMaxStudyName) return "a name of " + std::to_string(name.size()) + " bytes";
  const bool control = std::any_of(name.begin(), name.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (control) return "a name with a control character";
  if (!is_utf8(name)) return "a name that is not UTF-8 text";
  return "";
}

fs::path study_files_prefix(const fs::path& storage, const std::string& study) {
  if (storage.empty() || storage == ":memory:") return {};
  if (hpo::is_server_url(storage.string())) {
    // A server's study keeps its files in the working folder, named by database.
    std::string db = hpo::url_database(storage.string());
    for (char& c : db) c = c == '/' || static_cast<unsigned char>(c) < 0x20 ? '_' : c;
    if (db.empty() || db == "." || db == "..") db = "krill";
    return fs::path(db + "." + study);
  }
  fs::path p = storage;
  p += "." + study;
  return p;
}

fs::path checkpoint_file(const fs::path& prefix, int64_t number) {
  fs::path p = prefix;
  p += ".trial-" + std::to_string(number) + ".ckpt";
  return p;
}

fs::path member_state_file(const fs::path& prefix, int64_t number, int64_t step) {
  fs::path p = prefix;
  p += ".member-" + std::to_string(number) + ".step-" + std::to_string(step) + ".state";
  return p;
}

std::map<int64_t, std::vector<int64_t>> member_state_files(const fs::path& prefix) {
  std::map<int64_t, std::vector<int64_t>> out;
  if (prefix.empty()) return out;
  files_starting(prefix, [&](const fs::path&, std::string_view rest) {
    if (const auto [number, step] = member_step_in(rest); number >= 0) {
      out[number].push_back(step);
    }
  });
  for (auto& [number, steps] : out) std::sort(steps.begin(), steps.end());
  return out;
}

std::vector<fs::path> study_files(const fs::path& storage, const std::string& study) {
  std::vector<fs::path> out;
  const fs::path prefix = study_files_prefix(storage, study);
  if (prefix.empty()) return out;
  files_starting(prefix, [&](const fs::path& file, std::string_view rest) {
    if (is_study_file_suffix(rest)) out.push_back(file);
  });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::pair<fs::path, int64_t>> unnamed_checkpoints(const fs::path& storage) {
  std::vector<std::pair<fs::path, int64_t>> out;
  if (storage.empty() || storage == ":memory:" || hpo::is_server_url(storage.string())) return out;
  files_starting(storage, [&](const fs::path& file, std::string_view rest) {
    if (const int64_t number = number_in(rest, "trial-", ".ckpt"); number >= 0) {
      out.emplace_back(file, number);
    }
  });
  std::sort(out.begin(), out.end());
  return out;
}

fs::path moved_study_file(const fs::path& file, const fs::path& from_storage,
                          const std::string& from_study, const fs::path& to_storage,
                          const std::string& to_study) {
  const std::string from = study_files_prefix(from_storage, from_study).filename().string();
  fs::path p = study_files_prefix(to_storage, to_study);
  p += file.filename().string().substr(from.size());
  return p;
}

}  // namespace krill::tune
