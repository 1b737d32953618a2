#include "tune/model_template.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace krill::tune {

namespace {

[[noreturn]] void bad_template(std::string_view layers, const std::string& why) {
  throw InvalidArgument("layers '" + std::string(layers) + "': " + why);
}

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// A template as a tree: items separated by top-level commas, each a text with {name}s or a
// group [ ... ] of items.
struct Item {
  std::string text;         // a layer (with {name}s), when not a group
  std::vector<Item> group;  // the items of a group
  bool is_group = false;
  std::vector<std::string> names;  // the names in the text, or in the group's own layers
};

class TemplateParser {
 public:
  explicit TemplateParser(std::string_view s) : s_(s) {}

  std::vector<Item> parse() {
    std::vector<Item> items = list(false);
    if (at_ != s_.size()) bad_template(s_, "']' at " + position() + " closes no '['");
    return items;
  }

 private:
  std::string position() const { return "character " + std::to_string(at_ + 1); }

  // Items up to the end, or up to the ']' closing the group (consumed) when `in_group`.
  std::vector<Item> list(bool in_group) {
    std::vector<Item> items;
    for (;;) {
      items.push_back(item());
      if (at_ < s_.size() && s_[at_] == ',') {
        ++at_;
        continue;
      }
      if (in_group) {
        if (at_ >= s_.size()) bad_template(s_, "a '[' is never closed, expected ']'");
        ++at_;  // the ']'
      }
      return items;
    }
  }

  Item item() {
    Item out;
    while (at_ < s_.size() && s_[at_] == ' ') ++at_;
    if (at_ < s_.size() && s_[at_] == '[') {
      ++at_;
      out.is_group = true;
      out.group = list(true);
      for (const Item& i : out.group) {  // its own layers' names; a nested group decides alone
        if (i.is_group) continue;
        for (const auto& n : i.names) {
          if (std::find(out.names.begin(), out.names.end(), n) == out.names.end()) {
            out.names.push_back(n);
          }
        }
      }
      while (at_ < s_.size() && s_[at_] == ' ') ++at_;
      if (at_ < s_.size() && s_[at_] != ',' && s_[at_] != ']') {
        bad_template(s_, "'" + std::string(1, s_[at_]) + "' at " + position() +
                             " follows a group, expected ',' or the end");
      }
      return out;
    }
    while (at_ < s_.size() && s_[at_] != ',' && s_[at_] != ']') {
      const char c = s_[at_];
      if (c == '[') bad_template(s_, "'[' at " + position() + " inside a layer");
      if (c == '}') bad_template(s_, "'}' at " + position() + " closes no '{'");
      if (c == '{') {
        const size_t close = s_.find('}', at_);
        if (close == std::string_view::npos) {
          bad_template(s_, "'{' at " + position() + " is never closed, expected '}'");
        }
        const std::string name(s_.substr(at_ + 1, close - at_ - 1));
        if (name.empty() || !std::all_of(name.begin(), name.end(), name_char)) {
          bad_template(s_, "'{" + name + "}' at " + position() +
                               " is not a parameter name, expected letters, digits and _ . -");
        }
        if (std::find(out.names.begin(), out.names.end(), name) == out.names.end()) {
          out.names.push_back(name);
        }
        out.text += s_.substr(at_, close - at_ + 1);
        at_ = close + 1;
        continue;
      }
      out.text += c;
      ++at_;
    }
    return out;
  }

  std::string_view s_;
  size_t at_ = 0;
};

void collect(const std::vector<Item>& items, std::vector<std::string>& names) {
  for (const Item& i : items) {
    if (i.is_group) {
      collect(i.group, names);
      continue;
    }
    for (const auto& n : i.names) {
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    }
  }
}

std::string substitute(std::string_view layers, const std::string& text,
                       const hpo::Params& params) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '{') {
      out += text[i++];
      continue;
    }
    const size_t close = text.find('}', i);
    const std::string name = text.substr(i + 1, close - i - 1);
    const auto it = params.find(name);
    if (it == params.end()) {
      bad_template(layers, "'{" + name +
                               "}' has no value in this trial, expected a parameter of that "
                               "name (put its layers in [ ] to make them optional)");
    }
    out += hpo::to_string(it->second);
    i = close + 1;
  }
  return out;
}

void expand(std::string_view layers, const std::vector<Item>& items, const hpo::Params& params,
            std::vector<std::string>& out) {
  for (const Item& i : items) {
    if (!i.is_group) {
      out.push_back(substitute(layers, i.text, params));
      continue;
    }
    const bool all_set = std::all_of(i.names.begin(), i.names.end(),
                                     [&](const std::string& n) { return params.contains(n); });
    if (all_set) expand(layers, i.group, params, out);
  }
}

}  // namespace

std::vector<std::string> template_names(std::string_view layers) {
  std::vector<std::string> names;
  collect(TemplateParser(layers).parse(), names);
  return names;
}

std::vector<std::string> required_template_names(std::string_view layers) {
  std::vector<std::string> names;
  for (const Item& i : TemplateParser(layers).parse()) {
    if (i.is_group) continue;
    for (const auto& n : i.names) {
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    }
  }
  return names;
}

std::string expand_layers(std::string_view layers, const hpo::Params& params) {
  if (layers.find_first_of("{}[]") == std::string_view::npos) return std::string(layers);
  std::vector<std::string> parts;
  expand(layers, TemplateParser(layers).parse(), params, parts);
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

}  // namespace krill::tune
