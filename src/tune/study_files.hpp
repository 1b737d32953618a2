// The files a study keeps beside its database, named by database, study and trial so that the
// studies of one database never share one: `<storage>.<study>.trial-<N>.ckpt`, the weights of the
// study's best trial, and `<storage>.<study>.member-<N>.step-<S>.state`, a PBT member's state while
// it trains. `krill tune` writes them; `krill study delete|rename|copy` deletes, renames and copies
// them with their study.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace krill::tune {

// What is wrong with `name` as a study's name, "" when nothing: it names files, so it is not
// empty, UTF-8 text with no '/' and no control character, and is not "." or "..". kStudyNameRule
// says so.
std::string study_name_problem(const std::string& name);
inline constexpr size_t kMaxStudyName = 120;
inline constexpr const char* kStudyNameRule =
    "a name that can be part of a file name (UTF-8 text, not empty, at most 120 bytes, no '/' or "
    "control character, not '.' or '..')";

// `<storage>.<study>`, the start of the study's file names; empty for an in-memory storage
// (":memory:", or no storage), which keeps no files. A server's study (postgresql://...) keeps
// them in the working folder as `<database>.<study>`: run its processes from one shared folder
// for the best weights to be found by all of them.
std::filesystem::path study_files_prefix(const std::filesystem::path& storage,
                                         const std::string& study);
// `<prefix>.trial-<N>.ckpt`: the weights of trial N, kept while it is the best.
std::filesystem::path checkpoint_file(const std::filesystem::path& prefix, int64_t number);
// `<prefix>.member-<N>.step-<S>.state`: PBT member N's state at generation step S (a member
// keeps its last two: see TrainingObjective).
std::filesystem::path member_state_file(const std::filesystem::path& prefix, int64_t number,
                                        int64_t step);
// The member states that exist under `prefix`: member number -> its steps, ascending (no `.tmp`
// of a write that did not finish).
std::map<int64_t, std::vector<int64_t>> member_state_files(const std::filesystem::path& prefix);

// The study's files that exist beside the storage (of both kinds, and a `.tmp` left by a write
// that did not finish), by name: another study's, even one whose name starts with this one's,
// never match. Sorted; empty for an in-memory storage.
std::vector<std::filesystem::path> study_files(const std::filesystem::path& storage,
                                               const std::string& study);
// The name `file` (one of study_files(from_storage, from_study)) takes for another storage or
// study: the same trial and kind.
std::filesystem::path moved_study_file(const std::filesystem::path& file,
                                       const std::filesystem::path& from_storage,
                                       const std::string& from_study,
                                       const std::filesystem::path& to_storage,
                                       const std::string& to_study);

// The best-weights files of an earlier krill, which named them by database alone
// (`<storage>.trial-<N>.ckpt`), with their trial numbers; `krill tune` renames them to its
// study's names when the database holds that one study alone.
std::vector<std::pair<std::filesystem::path, int64_t>> unnamed_checkpoints(
    const std::filesystem::path& storage);

}  // namespace krill::tune
