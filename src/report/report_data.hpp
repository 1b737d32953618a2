// ReportData: everything `krill report` draws, read from a study's storage: the study, its trials
// (parameters, states, values, learning curves and per-step metrics such as the learning rate, the
// stopping rule's decisions), and the search space read back from the stored fingerprint
// (hpo::SearchSpace::from_fingerprint).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hpo/search_space.hpp"
#include "hpo/storage.hpp"
#include "hpo/trial.hpp"

namespace krill::report {

struct DimensionInfo {
  std::string name;
  std::string kind;  // "float", "int", "choice", "grid"
  bool log = false;
  std::string condition{};  // when it is active ("optimizer = sgd"); empty: always
};

struct ReportData {
  hpo::StudyRecord study;
  std::vector<hpo::TrialRecord> trials;  // by number
  hpo::SearchSpace space;                // the study's, with bounds and values
  std::vector<DimensionInfo> dims;       // the space's dimensions as the figures name them
};

// Reads the study `name` (or the only study when name is empty). Throws InvalidArgument naming
// the studies present when the choice is ambiguous or the name unknown, and DataError when the
// database holds no study.
ReportData load_report_data(hpo::Storage& storage, const std::string& name = "");

// The dimensions of a space: a float, int (either maybe log), choice or grid dimension each.
std::vector<DimensionInfo> dimensions_of(const hpo::SearchSpace& space);
// The same from SearchSpace::fingerprint() text; throws DataError when it is not one.
std::vector<DimensionInfo> parse_dimensions(const std::string& fingerprint);

// The decision that stopped a trial early (the stopping rule's last Stop), if any.
const hpo::DecisionRecord* stop_decision(const hpo::TrialRecord& trial);

// The study's settings (StudyRecord::config, "key: value" lines) as pairs, each value as it reads:
// a double-quoted value is unquoted, its \n, \" and \\ escapes decoded (so the search space is
// several lines again). A line without ": " is a value with an empty key; blank lines are left out.
std::vector<std::pair<std::string, std::string>> settings_of(const std::string& config);

// The data as one JSON object (what the HTML page embeds and `--serve` returns at /data.json):
// {"study": {..., "settings": [[key, value], ...]}, "dims": [{"name", "kind", "log",
//  "condition": "optimizer = sgd" or null}, ...], "trials": [{"number", "state",
//  "value", "error", "started", "finished", "worker", "params": {...}, "attrs": {...},
//  "curve": [[step, value], ...], "metrics": {"lr": [[step, value], ...], ...},
//  "stop": {"step", "reason", "prediction"} or null, "exploits": [{"step", "donor", "donor_step",
//  "params": {...}, "lr", "reason"}, ...]}, ...],
//  "importance": {"trials", "top_trials", "note", "params": [{"name", "importance",
//  "trials"}, ...]} (a conditional parameter's "trials": those where it is active),
//  "contours": {"note", "plots": [{"x": {"name", "log", "lo", "hi", "cells": [...]}, "y": {...},
//  "z": [[...], ...] (rows by y), "bandwidth", "points": [[number, x, y, value], ...]}, ...]},
//  "generated": <unix seconds>}
// "stop" is the decision that stopped the trial early (stop_decision()); "importance" and
// "contours" are report/analysis.hpp's (a "note" says why one is empty).
// "exploits" is a PBT member's lineage (empty for other trials): at `step` it copied trial
// `donor`'s state at `donor_step` and took `params`; `lr` is its learning rate from then on
// (report/pbt_lineage.hpp; null when unknown).
// Non-finite numbers are written as null.
std::string to_json(const ReportData& data);

}  // namespace krill::report
