#include "hpo/storage.hpp"

#include <algorithm>
#include <cctype>

#include "core/error.hpp"

namespace krill::hpo {

namespace {

// The URL's parts: scheme://authority/path?query (the authority is [user[:password]@]hosts).
struct UrlParts {
  size_t authority = 0, path = 0, query = 0;  // where each starts (path and query at their / ?)
};

UrlParts url_parts(const std::string& url) {
  UrlParts p;
  p.authority = url.find("://") + 3;
  p.path = url.find_first_of("/?", p.authority);
  if (p.path == std::string::npos) p.path = url.size();
  p.query = url.find('?', p.path);
  if (p.query == std::string::npos) p.query = url.size();
  return p;
}

std::string percent_decoded(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

bool is_server_url(const std::string& location) {
  auto starts = [&](const char* prefix) {
    const std::string p(prefix);
    if (location.size() < p.size()) return false;
    for (size_t i = 0; i < p.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(location[i])) != p[i]) return false;
    }
    return true;
  };
  return starts("postgresql://") || starts("postgres://");
}

std::string display_location(const std::string& location) {
  // Any URL (scheme://...), so that a refused one (mysql://me:pw@...) is shown masked too.
  const size_t scheme = location.find("://");
  const bool url =
      scheme != std::string::npos && scheme > 0 &&
      std::all_of(
          location.begin(), location.begin() + static_cast<std::ptrdiff_t>(scheme), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
          });
  if (!url) return location;
  std::string out = location;
  // The query first (it lies behind the user part, whose length may change).
  UrlParts p = url_parts(out);
  for (size_t at = p.query; at < out.size();) {
    const size_t end = std::min(out.find('&', at + 1), out.size());
    const size_t key = at + 1;
    if (out.compare(key, 9, "password=") == 0) {
      out.replace(key + 9, end - key - 9, "***");
      at = key + 9 + 3;
    } else {
      at = end;
    }
  }
  p = url_parts(out);
  const size_t at = out.rfind('@', p.path);
  if (at != std::string::npos && at >= p.authority) {
    const size_t colon = out.find(':', p.authority);
    if (colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  return out;
}

std::string url_database(const std::string& url) {
  if (!is_server_url(url)) return "";
  const UrlParts p = url_parts(url);
  if (p.path < url.size() && url[p.path] == '/' && p.query > p.path + 1) {
    return percent_decoded(url.substr(p.path + 1, p.query - p.path - 1));
  }
  for (size_t at = p.query; at < url.size();) {  // ?dbname=...
    const size_t end = std::min(url.find('&', at + 1), url.size());
    if (url.compare(at + 1, 7, "dbname=") == 0)
      return percent_decoded(url.substr(at + 8, end - at - 8));
    at = end;
  }
  const size_t at = url.rfind('@', p.path);
  if (at != std::string::npos && at >= p.authority) {
    const size_t colon = url.find(':', p.authority);
    return percent_decoded(url.substr(p.authority, std::min(colon, at) - p.authority));
  }
  return "";
}

std::string to_string(Direction d) {
  return d == Direction::Minimize ? "minimize" : "maximize";
}

Direction parse_direction(const std::string& s) {
  if (s == "minimize") return Direction::Minimize;
  if (s == "maximize") return Direction::Maximize;
  throw InvalidArgument("unknown direction '" + s + "', expected minimize or maximize");
}

int64_t copy_study(Storage& from, const StudyRecord& study, Storage& to, const std::string& name) {
  const std::vector<TrialRecord> trials = from.trials(study.id);  // one snapshot
  StudyRecord copy = study;
  copy.name = name;
  StorageBatch batch(to);
  const int64_t id = to.create_study(copy);
  for (const TrialRecord& t : trials) {
    to.start_trial(id, t);
    for (const Report& r : t.reports) to.add_report(id, t.number, r);
    for (const DecisionRecord& d : t.decisions) to.add_decision(id, t.number, d);
    if (t.state == TrialState::Running) continue;
    TrialRecord finished = t;
    finished.owner.clear();  // finished by anyone: the lease is not checked
    to.finish_trial(id, finished);
  }
  batch.commit();
  return id;
}

}  // namespace krill::hpo
