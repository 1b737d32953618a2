// Which studies of a database a command reads: `krill show`, `export` and `best` open an existing
// database (never create one) and take every study, or the one `--study` names.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hpo/storage.hpp"

namespace krill::cli {

// Throws DataError "<path>: no such study database" rather than creating an empty one.
std::unique_ptr<hpo::Storage> open_existing(const std::string& path);

// Every study of `db`, or the one named (an error lists the names there are).
std::vector<hpo::StudyRecord> chosen_studies(hpo::Storage& storage, const std::string& db,
                                             const std::string& name);

// The study named, or the only one: an error asks for --study when `db` holds several, and says
// so when it holds none.
hpo::StudyRecord one_study(hpo::Storage& storage, const std::string& db, const std::string& name);

}  // namespace krill::cli
