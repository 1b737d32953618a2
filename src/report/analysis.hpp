// The report's analysis of a study: which parameters mattered (PED-ANOVA, hpo/importance.hpp) and
// how the objective varies over pairs of them (contour surfaces, as Optuna's plot_contour). Shared
// by the HTML report's JSON and the SVG figures, so both show the same numbers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hpo/importance.hpp"
#include "report/report_data.hpp"

namespace krill::report {

// The objective over two numeric parameters, smoothed onto a grid of cells.
//
// Interpolation: a Gaussian-kernel (Nadaraya-Watson) average of the completed trials' values,
// computed in the unit square (each axis is the parameter's range, in log space for a log
// dimension): z(p) = sum_i w_i v_i / sum_i w_i with w_i = exp(-|p - p_i|^2 / 2h^2), bandwidth
// h = 1 / sqrt(n) within [0.05, 0.25] (about the mean spacing of n points). A smoother, not an
// interpolator: it never leaves the range of the values seen and does not invent extrema between
// trials; far from every trial it shows the nearest trials' value, so read the surface together
// with the dots.
struct Contour {
  struct Axis {
    std::string name;
    bool log = false;
    double lo = 0, hi = 1;      // the range drawn, in the parameter's units: its bounds (a
                                // grid's extremes) widened by 5% each side (in log space if log)
    std::vector<double> cells;  // cell centres, in the parameter's units, increasing
  };
  struct Point {
    int64_t number;
    double x, y, value;
  };
  Axis x, y;
  std::vector<std::vector<double>> z;  // z[row][col]: at (x.cells[col], y.cells[row])
  double bandwidth = 0;                // h, in the unit square
  std::vector<Point> points;           // the completed trials it is made of
};

struct Analysis {
  hpo::Importances importance;
  std::string importance_note;  // empty, or why there is nothing to show
  std::vector<Contour> contours;
  std::string contour_note;  // empty, or why no contour is drawn
};

inline constexpr size_t kContourParams = 4;  // pairs among the most important numeric parameters
inline constexpr size_t kContourCells = 32;  // cells per axis

// The importances of the study's dimensions (PED-ANOVA, Optuna's defaults) and the contours of
// every pair of its kContourParams most important numeric dimensions (floats, integers, grids of
// numbers).
Analysis analyze(const ReportData& data);

}  // namespace krill::report
