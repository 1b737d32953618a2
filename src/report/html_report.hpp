// The HTML report: one self-contained page (Apache ECharts, the page's script and the study's data
// inlined) that opens offline. Charts: optimization history (by trial and by wall time), learning
// curves, parameter importance, parallel coordinates, contours over pairs of parameters, one slice
// per parameter, a heatmap over grid dimensions, learning rates, worker timeline; a summary, and
// tables of the failed and the stopped trials with their errors and reasons. The page exposes
//   window.krillReport = {charts: {<name>: echartsInstance, ...}, data: <to_json(data)>}
// where each chart lives in <div class="chart" id="chart-<name>">. A chart with nothing to draw
// (no finished trial, no "lr" metric) shows a message in its div and is absent from `charts`.
// Contour charts are made by the script, one per plot of the data's "contours", named
// "contour-<x>-<y>" (the parameters' names, characters other than [A-Za-z0-9_.-] as '_').
#pragma once

#include <string>

#include "report/report_data.hpp"

namespace krill::report {

struct HtmlOptions {
  // 0: a static page. > 0: a live page (`krill report --serve`) that fetches `data_url` every
  // `refresh_seconds` and updates its charts in place.
  int refresh_seconds = 0;
  std::string data_url = "data.json";
};

std::string render_html(const ReportData& data, const HtmlOptions& options = {});

// The chart names (the ids without "chart-") that render_html lays out for this data, in page
// order: history, history-time, curves, importance, parallel, slice-<param>..., heatmap (two or
// more grid dimensions), lr, lineage (PBT), timeline. (The contours are not listed: the script
// makes them from the data.)
std::vector<std::string> chart_names(const ReportData& data);

}  // namespace krill::report
