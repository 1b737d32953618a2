// Choosing a study of a database by name, for the commands that read or change one (`show`,
// `export`, `study delete|rename|copy`): one rule, one error that lists the names there are.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hpo/storage.hpp"
#include "store/open.hpp"

namespace krill::cli {

// A database as a command line names it (krill tune's --storage, the other commands' database):
// a SQLite file's path, or the same as sqlite:///path, as in a study file (three slashes, then the
// path: sqlite:////abs/s.db is /abs/s.db), or a server's database (postgresql://user@host/db),
// kept as written. Throws InvalidArgument "<what> is 'mysql://...', expected ..." for another
// scheme or an empty value.
std::string database_location(const std::string& value, const std::string& what);

// Opens an existing study database; DataError when the file is missing (reading never creates
// one). store::Access::Read for a command that only reads (studies, show, export, best, the
// source of study copy): it then reads a file this user may not write.
std::unique_ptr<hpo::Storage> open_existing(const std::string& path,
                                            store::Access access = store::Access::ReadWrite);

// The study of `db` named `name`. Throws InvalidArgument "<option>: no study 'x' in db (it holds:
// a, b)".
hpo::StudyRecord study_named(hpo::Storage& storage, const std::string& db, const std::string& name,
                             const std::string& option = "--study");

// The studies of `db` to show: every one (`name` empty), or the one named.
std::vector<hpo::StudyRecord> chosen_studies(hpo::Storage& storage, const std::string& db,
                                             const std::string& name);

// The study named, or the database's only one; InvalidArgument listing them when it holds
// several ("choose one with --study") or none.
hpo::StudyRecord one_study(hpo::Storage& storage, const std::string& db, const std::string& name);

}  // namespace krill::cli
