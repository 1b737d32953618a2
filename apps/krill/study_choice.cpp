#include "study_choice.hpp"

#include <filesystem>

#include "core/error.hpp"
#include "store/open.hpp"

namespace krill::cli {

namespace {

std::string names_of(const std::vector<hpo::StudyRecord>& studies) {
  std::string names;
  for (const auto& s : studies) names += (names.empty() ? "" : ", ") + s.name;
  return names;
}

}  // namespace

std::string database_location(const std::string& value, const std::string& what) {
  if (hpo::is_server_url(value)) return value;
  if (value.rfind("sqlite:///", 0) == 0 && value.size() > 10) return value.substr(10);
  if (value.empty() || value.find("://") != std::string::npos) {
    throw InvalidArgument(what + " is '" + hpo::display_location(value) +
                          "', expected a SQLite file path, sqlite:///path or "
                          "postgresql://user@host:port/dbname");
  }
  return value;
}

std::unique_ptr<hpo::Storage> open_existing(const std::string& path, store::Access access) {
  if (!hpo::is_server_url(path) && !std::filesystem::exists(path)) {
    throw DataError(path + ": no such study database");
  }
  return store::open_storage(path, access);
}

hpo::StudyRecord study_named(hpo::Storage& storage, const std::string& db, const std::string& name,
                             const std::string& option) {
  const auto studies = storage.studies();
  for (const auto& s : studies) {
    if (s.name == name) return s;
  }
  throw InvalidArgument(
      option + ": no study '" + name + "' in " + hpo::display_location(db) +
      (studies.empty() ? " (it holds none)" : " (it holds: " + names_of(studies) + ")"));
}

std::vector<hpo::StudyRecord> chosen_studies(hpo::Storage& storage, const std::string& db,
                                             const std::string& name) {
  if (name.empty()) return storage.studies();
  return {study_named(storage, db, name)};
}

hpo::StudyRecord one_study(hpo::Storage& storage, const std::string& db, const std::string& name) {
  if (!name.empty()) return study_named(storage, db, name);
  const auto studies = storage.studies();
  if (studies.size() == 1) return studies.front();
  const std::string shown = hpo::display_location(db);
  if (studies.empty()) throw DataError(shown + " holds no study yet");
  throw InvalidArgument(shown + " holds " + std::to_string(studies.size()) + " studies (" +
                        names_of(studies) + "): choose one with --study");
}

}  // namespace krill::cli
