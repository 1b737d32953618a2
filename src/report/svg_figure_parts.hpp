// Pieces shared by the SVG figures (internal to src/report): the layout of a 720x440 figure, its
// frame with axes, title and legend, colours by trial state, and the figures themselves.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "report/analysis.hpp"
#include "report/report_data.hpp"
#include "report/svg_axis.hpp"
#include "report/svg_writer.hpp"

namespace krill::report::svg {

inline constexpr int kWidth = 720;
inline constexpr int kHeight = 440;

// The plot area: left and top edges, width and height in pixels.
struct Frame {
  double left = 70, top = 44, width = 510, height = 336;
  double right() const { return left + width; }
  double bottom() const { return top + height; }
};

// Sets the axes' pixel ranges to the frame and draws the frame, grid lines, ticks, labels and
// axis titles.
void draw_axes(Svg& svg, const Frame& frame, Axis& x, Axis& y, const std::string& x_label,
               const std::string& y_label);
// "<study>: <what>", centred above the frame.
void draw_title(Svg& svg, const ReportData& data, const std::string& what);
// A note in the middle of the frame (e.g. "no learning curves recorded"), wrapped into lines of
// about 72 characters.
void draw_note(Svg& svg, const Frame& frame, const std::string& note);
// A colour bar `gap` right of the frame: 32 viridis steps from the worst value (bottom) to the
// best (top), labelled; `say_brighter`: with "better is brighter" beside it.
void draw_color_bar(Svg& svg, const Frame& frame, double gap, double lo, double hi, bool maximize,
                    bool say_brighter);

struct LegendEntry {
  std::string label{};
  std::string color{};
  bool line = false;  // a line sample (dashed when `dash` is set) rather than a square
  std::string dash{};
};
// Entries stacked at (x, y) (the top-left corner), right of the frame.
void draw_legend(Svg& svg, double x, double y, const std::vector<LegendEntry>& entries);

std::string state_color(hpo::TrialState s);
// Legend squares for the states present among `trials`: completed, stopped, failed, diverged,
// running.
std::vector<LegendEntry> state_legend(const std::vector<const hpo::TrialRecord*>& trials);

// The trial's objective when it is finished and finite.
std::optional<double> finite_value(const hpo::TrialRecord& t);
// The name of the study's objective for axis labels ("objective" when unnamed).
std::string objective_label(const ReportData& data);
// At most `max_chars` bytes, cut at a UTF-8 character boundary and ended with "..." when cut.
std::string shorten(const std::string& text, size_t max_chars);
// A parameter name made safe for a file name: [A-Za-z0-9._-] kept, others become '_'.
std::string file_safe(const std::string& name);

// Trials grouped by the value of one parameter (`krill report --by PARAM`): the values in a fixed
// order (numbers increasing, then strings in text order), a colour each.
struct Groups {
  std::string param;
  std::vector<std::string> labels;  // "step", "constant", "0.01"
  // The group of a trial; nullopt when it lacks the parameter.
  std::optional<size_t> of(const hpo::TrialRecord& t) const;
  std::string color(size_t group) const;
};
Groups groups_of(const ReportData& data, const std::string& param);

// The figures, as whole SVG documents.
std::string history_figure(const ReportData& data);
std::string curves_figure(const ReportData& data);
std::optional<std::string> lr_figure(const ReportData& data);  // nullopt: no trial has "lr"
std::string timeline_figure(const ReportData& data);
// PBT's family tree: nullopt when no trial has an exploit.
std::optional<std::string> lineage_figure(const ReportData& data);
std::string slice_figure(const ReportData& data, const DimensionInfo& dim);
std::string parallel_figure(const ReportData& data);
std::string summary_figure(const ReportData& data);
// The analysis (report/analysis.hpp): the importances as bars, most important on top (or the
// note saying why there are none); the objective over two parameters, a coloured surface with the
// trials as dots; a figure holding only the note that says why no contour is drawn.
std::string importance_figure(const ReportData& data, const Analysis& analysis);
std::string contour_figure(const ReportData& data, const Contour& contour);
std::string contour_note_figure(const ReportData& data, const std::string& note);
// The same, each trial coloured by its group, with a bold line through each group's mean (the
// mean learning curve per step; for a slice over a grid or choice dimension, the mean objective
// at each value).
std::string curves_by_figure(const ReportData& data, const Groups& groups);
std::optional<std::string> lr_by_figure(const ReportData& data, const Groups& groups);
std::string slice_by_figure(const ReportData& data, const DimensionInfo& dim, const Groups& groups);

}  // namespace krill::report::svg
