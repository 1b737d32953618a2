#include "report/svg_figure_parts.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <utility>

namespace krill::report::svg {

namespace {

const SvgStyle kFrameStyle{.fill = "none", .stroke = "#444444", .stroke_width = 1};
const SvgStyle kGridStyle{.stroke = "#e6e6e6", .stroke_width = 1};
const SvgStyle kTickStyle{.stroke = "#444444", .stroke_width = 1};

}  // namespace

void draw_axes(Svg& svg, const Frame& frame, Axis& x, Axis& y, const std::string& x_label,
               const std::string& y_label) {
  x.set_pixels(frame.left, frame.right());
  y.set_pixels(frame.bottom(), frame.top);
  for (const auto& t : y.ticks()) {
    const double py = y.map(t.value);
    svg.line(frame.left, py, frame.right(), py, kGridStyle);
    svg.line(frame.left - 4, py, frame.left, py, kTickStyle);
    svg.text(frame.left - 7, py + 4, shorten(t.label, 14), Anchor::End, 11);
  }
  // Category labels are turned when many or long, so that neighbours do not overlap.
  bool turn = false;
  if (x.kind() == Axis::Kind::Category) {
    const double slot = frame.width / std::max<size_t>(1, x.ticks().size());
    for (const auto& t : x.ticks()) turn = turn || static_cast<double>(t.label.size()) * 6.5 > slot;
  }
  for (const auto& t : x.ticks()) {
    const double px = x.map(t.value);
    if (x.kind() != Axis::Kind::Category) svg.line(px, frame.top, px, frame.bottom(), kGridStyle);
    svg.line(px, frame.bottom(), px, frame.bottom() + 4, kTickStyle);
    if (turn) {
      svg.text(px + 3, frame.bottom() + 14, shorten(t.label, 16), Anchor::End, 11, "#222", -30);
    } else {
      svg.text(px, frame.bottom() + 17, shorten(t.label, 24), Anchor::Middle, 11);
    }
  }
  svg.rect(frame.left, frame.top, frame.width, frame.height, kFrameStyle);
  svg.text(frame.left + frame.width / 2, frame.bottom() + (turn ? 50 : 40), x_label, Anchor::Middle,
           12);
  const double ly = frame.top + frame.height / 2;
  svg.text(frame.left - 54, ly, y_label, Anchor::Middle, 12, "#222", -90);
}

void draw_title(Svg& svg, const ReportData& data, const std::string& what) {
  const std::string study = data.study.name.empty() ? "study" : data.study.name;
  svg.text(svg.width() / 2.0, 26, shorten(study, 60) + ": " + what, Anchor::Middle, 15, "#111");
}

void draw_note(Svg& svg, const Frame& frame, const std::string& note) {
  // Words into lines of at most 72 bytes (a longer word stands alone).
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < note.size()) {
    size_t end = note.find(' ', start);
    if (end == std::string::npos) end = note.size();
    const std::string word = note.substr(start, end - start);
    if (lines.empty() || lines.back().size() + 1 + word.size() > 72) {
      lines.push_back(word);
    } else {
      lines.back() += " " + word;
    }
    start = end + 1;
  }
  if (lines.empty()) return;
  const double first = frame.top + frame.height / 2 - 8.0 * static_cast<double>(lines.size() - 1);
  for (size_t i = 0; i < lines.size(); ++i) {
    svg.text(frame.left + frame.width / 2, first + 16.0 * static_cast<double>(i), lines[i],
             Anchor::Middle, 13, "#777777");
  }
}

void draw_legend(Svg& svg, double x, double y, const std::vector<LegendEntry>& entries) {
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const double row = y + 18.0 * static_cast<double>(i);
    if (e.line) {
      svg.line(x, row + 5, x + 18, row + 5,
               SvgStyle{.stroke = e.color, .stroke_width = 2, .dash = e.dash});
    } else {
      svg.rect(x + 4, row, 10, 10, SvgStyle{.fill = e.color});
    }
    svg.text(x + 24, row + 9.5, shorten(e.label, 18), Anchor::Start, 11);
  }
}

std::string state_color(hpo::TrialState s) {
  switch (s) {
    case hpo::TrialState::Completed:
      return "#1f77b4";
    case hpo::TrialState::Stopped:
      return "#8c8c8c";
    case hpo::TrialState::Failed:
      return "#d62728";
    case hpo::TrialState::Diverged:
      return "#9467bd";
    case hpo::TrialState::Running:
      return "#17becf";
  }
  return "#000000";
}

std::vector<LegendEntry> state_legend(const std::vector<const hpo::TrialRecord*>& trials) {
  std::set<hpo::TrialState> present;
  for (const auto* t : trials) present.insert(t->state);
  std::vector<LegendEntry> out;
  for (const auto s :
       {hpo::TrialState::Completed, hpo::TrialState::Stopped, hpo::TrialState::Failed,
        hpo::TrialState::Diverged, hpo::TrialState::Running}) {
    if (present.contains(s)) out.push_back({hpo::to_string(s), state_color(s)});
  }
  return out;
}

std::optional<double> finite_value(const hpo::TrialRecord& t) {
  if (!hpo::is_finished(t.state) || !t.value || !std::isfinite(*t.value)) return std::nullopt;
  return *t.value;
}

std::string objective_label(const ReportData& data) {
  const std::string name = data.study.objective.empty() ? "objective" : data.study.objective;
  return name + " (" + hpo::to_string(data.study.direction) + ")";
}

std::string shorten(const std::string& text, size_t max_chars) {
  if (text.size() <= max_chars || max_chars < 4) return text;
  size_t cut = max_chars - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

std::string file_safe(const std::string& name) {
  std::string out;
  for (const char c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    out += keep ? c : '_';
  }
  if (out.empty() || out.find_first_not_of('.') == std::string::npos) out = "_" + out;
  return out;
}

std::string summary_figure(const ReportData& data) {
  Svg svg(kWidth, kHeight);
  draw_title(svg, data, "summary");
  size_t running = 0;
  for (const auto& t : data.trials) running += t.state == hpo::TrialState::Running ? 1 : 0;
  const double cx = kWidth / 2.0;
  svg.text(cx, 190, "no finished trials yet", Anchor::Middle, 20, "#444444");
  std::string counts = fmt::format("{} trial{} running", running, running == 1 ? "" : "s");
  if (data.study.n_trials > 0) counts += fmt::format(", {} asked for", data.study.n_trials);
  svg.text(cx, 222, counts, Anchor::Middle, 13, "#666666");
  svg.text(cx, 244, "objective: " + objective_label(data), Anchor::Middle, 13, "#666666");
  if (!data.study.sampler.empty()) {
    svg.text(cx, 266, "sampler: " + shorten(data.study.sampler, 60), Anchor::Middle, 13, "#666666");
  }
  return svg.str();
}

std::optional<size_t> Groups::of(const hpo::TrialRecord& t) const {
  const auto it = t.params.find(param);
  if (it == t.params.end()) return std::nullopt;
  const auto at = std::find(labels.begin(), labels.end(), hpo::to_string(it->second));
  if (at == labels.end()) return std::nullopt;
  return static_cast<size_t>(at - labels.begin());
}

std::string Groups::color(size_t group) const {
  return palette_color(group);
}

Groups groups_of(const ReportData& data, const std::string& param) {
  // Numbers in increasing order, then strings in text order; each label once.
  std::vector<std::pair<std::pair<bool, double>, std::string>> keyed;
  for (const auto& t : data.trials) {
    const auto it = t.params.find(param);
    if (it == t.params.end()) continue;
    const bool is_string = std::holds_alternative<std::string>(it->second);
    const double number = is_string ? 0.0 : hpo::as_double(it->second, param);
    keyed.push_back(
        {{is_string, std::isfinite(number) ? number : 0.0}, hpo::to_string(it->second)});
  }
  std::sort(keyed.begin(), keyed.end());
  Groups g{param, {}};
  for (const auto& [key, label] : keyed) {
    if (std::find(g.labels.begin(), g.labels.end(), label) == g.labels.end()) {
      g.labels.push_back(label);
    }
  }
  return g;
}

void draw_color_bar(Svg& svg, const Frame& frame, double gap, double lo, double hi, bool maximize,
                    bool say_brighter) {
  const double bx = frame.right() + gap, steps = 32, h = frame.height / steps;
  for (int k = 0; k < 32; ++k) {
    const double t = (k + 0.5) / steps;  // 0 at the bottom
    svg.rect(bx, frame.bottom() - (k + 1) * h, 14, h + 0.3, SvgStyle{.fill = viridis(t)});
  }
  svg.rect(bx, frame.top, 14, frame.height,
           SvgStyle{.fill = "none", .stroke = "#444444", .stroke_width = 0.8});
  const double best = maximize ? hi : lo, worst = maximize ? lo : hi;
  svg.text(bx + 20, frame.top + 4, fmt::format("{:.4g}", best), Anchor::Start, 10);
  svg.text(bx + 20, frame.bottom() + 3, fmt::format("{:.4g}", worst), Anchor::Start, 10);
  if (!say_brighter) return;
  svg.text(bx + 20, frame.top + frame.height / 2, "better", Anchor::Start, 10, "#666666");
  svg.text(bx + 20, frame.top + frame.height / 2 + 13, "is brighter", Anchor::Start, 10, "#666666");
}

}  // namespace krill::report::svg
