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

  // The best completed member, drawn thicker.
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
             SvgStyle{.stroke = t == best ? "#111111" : palette_color(row),
                      .stroke_width = t == best ? 3.0 : 1.8,
                      .dash = t->state == hpo::TrialState::Completed ||
                                      t->state == hpo::TrialState::Running
                                  ? ""
                                  : "5 3",
                      .cls = "member"});
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
  if (best) legend.push_back({fmt::format("best: trial {}", best->number), "#111111", true});
  legend.push_back({fmt::format("{} exploit{}", total, total == 1 ? "" : "s"), "#444444", true});
  draw_legend(svg, frame.right() + 14, frame.top, legend);
  return svg.str();
}

}  // namespace krill::report::svg
