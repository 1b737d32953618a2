// Static figures for papers (`krill report study.db --png DIR`), written as SVG: vector, exact,
// and readable without a renderer. Each figure is 720x440 px with a title naming the study, axis
// labels and a legend; the same data always gives the same bytes.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "report/report_data.hpp"

namespace krill::report {

// Writes into `dir` (created when missing):
//  - history.svg: each finished trial's value (dots coloured by state) and the best so far
//    (completed trials), against trial number;
//  - curves.svg: the learning curves of all trials (stopped, failed and diverged ones dashed);
//  - lr.svg: the learning rate (report metric "lr") against step, per trial; only when some
//    trial recorded one; a PBT member's rate steps at each exploit, marked by a diamond;
//  - lineage.svg: a PBT study's family tree (only when some member copied another): a line per
//    member over the steps, an arrow from the donor's line at the donor's step to the
//    recipient's at each exploit, its title naming the new hyperparameters;
//  - timeline.svg: a row per worker, a bar per trial from start to finish, coloured by state;
//  - slice-<param>.svg per dimension: the objective against the parameter (log x for log
//    dimensions, evenly spaced categories for choices and strings);
//  - parallel.svg: parallel coordinates of the dimensions and the objective, coloured by value
//    (only when the space has dimensions);
//  - importance.svg: each dimension's PED-ANOVA importance as a bar (report/analysis.hpp), or
//    the line saying why there is none (fewer than 2 completed trials);
//  - contour-<x>-<y>.svg per pair of the 4 most important numeric dimensions: the objective
//    smoothed over the two (log axes for log dimensions), the completed trials as dots; when no
//    pair can be drawn, contour.svg with the line saying why.
// The analysis figures are written when the space has dimensions (read back from the stored
// fingerprint: ReportData::space).
// With `by` (a searched parameter, `krill report --by PARAM`), also figures that tell the trials
// apart by that parameter's value, a colour per value and a bold line through each value's mean:
//  - curves-by-<by>.svg: the learning curves, and each value's mean curve;
//  - lr-by-<by>.svg: the learning rates (when some trial recorded one);
//  - slice-<param>-by-<by>.svg per other dimension: the objective against the parameter, and for
//    a grid or choice dimension each value's mean objective at each of its values (repeats of a
//    grid point average).
// A study without a finished trial gets only summary.svg, saying so. Returns the paths written,
// in that order. Throws krill::Error naming the path when the folder or a file cannot be written,
// InvalidArgument when `by` is not one of the study's dimensions.
std::vector<std::filesystem::path> write_svg_figures(const ReportData& data,
                                                     const std::filesystem::path& dir,
                                                     const std::string& by = "");

}  // namespace krill::report
