// The figure of a Population Based Training study: its family tree.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "report/pbt_lineage.hpp"
#include "report/svg_figure_parts.hpp"

namespace krill::report::svg {

std::optional<std::string> lineage_figure(const ReportData& data) {
  if (count_exploits(data.trials) == 0) return std::nullopt;
  // The members, top to bottom in number order, each from step 0 to its last step.
  std::vector<const hpo::TrialRecord*> members;
  std::map<int64_t, size_t> row_of;  // trial number -> row (0: top)
  int64_t last = 1;
  for (const auto& t : data.trials) {
    row_of[t.number] = members.size();
    members.push_back(&t);
    for (const auto& s : member_schedule(t)) last = std::max(last, s.to);
  }
  std::vector<std::string> names;  // the category axis runs bottom up: listed reversed
  for (auto it = members.rbegin(); it != members.rend(); ++it) {
    names.push_back(fmt::format("trial {}", (*it)->number));
  }
  Svg svg(kWidth, kHeight);
  draw_title(svg, data, "PBT family tree");
  Frame frame;
  Axis x = Axis::linear(0, static_cast<double>(last), true), y = Axis::categories(names);
  draw_axes(svg, frame, x, y, "step", "");
  auto row_y = [&](size_t row) { return y.map(static_cast<double>(members.size() - 1 - row)); };

  // The best completed member: the path its weights took is drawn over the members' rows.
  const bool maximize = data.study.direction == hpo::Direction::Maximize;
  const hpo::TrialRecord* best = nullptr;
  for (const auto* t : members) {
    const auto v = finite_value(*t);
    if (t->state != hpo::TrialState::Completed || !v) continue;
    if (!best || (maximize ? *v > *best->value : *v < *best->value)) best = t;
  }

  for (size_t row = 0; row < members.size(); ++row) {
    const auto* t = members[row];
    const auto schedule = member_schedule(*t);
    const double end = static_cast<double>(schedule.back().to);
    std::string title = fmt::format("trial {} ({})", t->number, hpo::to_string(t->state));
    if (t->value) title += fmt::format(": {:.6g}", *t->value);
    title += "; " + params_text(final_params(*t));
    svg.open_group(title);
    svg.line(x.map(0), row_y(row), x.map(end), row_y(row),
             SvgStyle{.stroke = palette_color(row),
                      .stroke_width = 1.8,
                      .dash = t->state == hpo::TrialState::Completed ||
                                      t->state == hpo::TrialState::Running
                                  ? ""
                                  : "5 3",
                      .cls = "member"});
    svg.close_group();
  }

  // The path the best member's weights took, over the rows of the members that trained them.
  if (best) {
    const auto path = weights_path(data.trials, best->number);
    svg.open_group("the best weights' path: " + std::to_string(path.size()) + " stretch" +
                   (path.size() == 1 ? "" : "es"));
    for (size_t i = 0; i < path.size(); ++i) {
      const auto row = row_of.find(path[i].trial);
      if (row == row_of.end()) continue;
      svg.line(x.map(static_cast<double>(path[i].from)), row_y(row->second),
               x.map(static_cast<double>(path[i].to)), row_y(row->second),
               SvgStyle{.stroke = "#111111", .stroke_width = 3.5, .cls = "best-path"});
      if (i > 0) {  // the copy that joins two stretches
        const auto from = row_of.find(path[i - 1].trial);
        if (from == row_of.end()) continue;
        const double at = x.map(static_cast<double>(path[i].from));
        svg.line(at, row_y(from->second), at, row_y(row->second),
                 SvgStyle{.stroke = "#111111", .stroke_width = 2.5, .cls = "best-path"});
      }
    }
    svg.close_group();
  }

  // The exploits: donor's line at donor_step -> recipient's line at the step, with an arrowhead.
  const size_t total = count_exploits(data.trials);
  for (size_t row = 0; row < members.size(); ++row) {
    const auto* t = members[row];
    for (const auto* d : exploits_of(*t)) {
      const auto donor = row_of.find(d->donor);
      if (donor == row_of.end()) continue;
      const double x1 = x.map(static_cast<double>(d->donor_step)), y1 = row_y(donor->second);
      const double x2 = x.map(static_cast<double>(d->step)), y2 = row_y(row);
      svg.open_group(exploit_title(*t, *d));
      svg.line(
          x1, y1, x2, y2,
          SvgStyle{.stroke = "#444444", .stroke_width = 1.3, .opacity = 0.9, .cls = "exploit"});
      // The arrowhead, 7 px long, pointing at the recipient.
      const double dx = x2 - x1, dy = y2 - y1, len = std::hypot(dx, dy);
      if (len > 0) {
        const double ux = dx / len, uy = dy / len;
        const double bx = x2 - 7 * ux, by = y2 - 7 * uy;
        svg.polygon({{x2, y2}, {bx - 3.5 * uy, by + 3.5 * ux}, {bx + 3.5 * uy, by - 3.5 * ux}},
                    SvgStyle{.fill = "#444444", .cls = "arrowhead"});
      }
      svg.circle(x1, y1, 2.5, SvgStyle{.fill = "#444444", .cls = "donor"});
      if (total <= 12) {  // few enough to label: the new hyperparameters beside the arrowhead
        svg.text(x2 + 4, y2 + (y2 > y1 ? 12 : -5),
                 shorten(params_text(d->params, changing_params(member_schedule(*t))), 28),
                 Anchor::Start, 9, "#333", 0, true);
      }
      svg.close_group();
    }
  }

  std::vector<LegendEntry> legend;
  if (best) {
    legend.push_back({fmt::format("best: trial {}", best->number), "#111111", true});
  }
  legend.push_back({fmt::format("{} exploit{}", total, total == 1 ? "" : "s"), "#444444", true});
  draw_legend(svg, frame.right() + 14, frame.top, legend);
  return svg.str();
}

}  // namespace krill::report::svg
