// SearchSpace::from_fingerprint: the inverse of SearchSpace::fingerprint(), one dimension a line:
//   name: float log|linear [low, high]
//   name: int log|linear [low, high]
//   name: categorical {float 0.1, int 3, string "relu"}
//   name: grid {...}
// each optionally followed by its condition (texts written before conditions existed have none):
//   ... if parent in {string "sgd", int 3}
//   ... if parent >= 3            (also >, <=, <, !=; an integer)
// A name is plain ([A-Za-z0-9_.-]) or quoted with \" \\ and \n escapes, as are string values.
// Numbers are the shortest text that reads back as the same double (hpo/param.cpp), so a space
// read back has the same fingerprint as the one written.
#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

#include "core/error.hpp"
#include "hpo/search_space.hpp"

namespace krill::hpo {

namespace {

class LineReader {
 public:
  LineReader(std::string_view line, int number) : line_(line), number_(number) {}

  [[noreturn]] void fail(const std::string& expected) const {
    throw DataError("search space line " + std::to_string(number_) + " '" + std::string(line_) +
                    "': expected " + expected + " at column " + std::to_string(pos_ + 1));
  }

  bool at_end() const { return pos_ >= line_.size(); }
  bool peek(char c) const { return pos_ < line_.size() && line_[pos_] == c; }

  void expect(std::string_view text) {
    if (line_.substr(pos_, text.size()) != text) {
      std::string quoted_text(1, '\'');  // built in steps: GCC 12 warns on "'" + text (-Wrestrict)
      quoted_text.append(text).push_back('\'');
      fail(quoted_text);
    }
    pos_ += text.size();
  }

  bool accept(std::string_view text) {
    if (line_.substr(pos_, text.size()) != text) return false;
    pos_ += text.size();
    return true;
  }

  // A quoted string: "..." with \" \\ and \n escapes.
  std::string quoted() {
    expect("\"");
    std::string out;
    while (pos_ < line_.size()) {
      const char c = line_[pos_++];
      if (c == '"') return out;
      if (c == '\\' && pos_ < line_.size()) {
        const char e = line_[pos_++];
        out += e == 'n' ? '\n' : e;
      } else {
        out += c;
      }
    }
    fail("a closing '\"'");
  }

  // A dimension's name, up to the ": " after it.
  std::string name() {
    if (peek('"')) {
      std::string n = quoted();
      expect(": ");
      return n;
    }
    const size_t colon = line_.find(": ", pos_);
    if (colon == std::string_view::npos || colon == pos_) fail("'name: kind ...'");
    std::string n(line_.substr(pos_, colon - pos_));
    pos_ = colon + 2;
    return n;
  }

  // A parent's name: plain up to the next ' ', or quoted.
  std::string parent_name() {
    if (peek('"')) return quoted();
    const size_t space = line_.find(' ', pos_);
    if (space == std::string_view::npos || space == pos_) fail("a parent's name");
    std::string n(line_.substr(pos_, space - pos_));
    pos_ = space;
    return n;
  }

  // " if parent in {...}" or " if parent >= 3" (the leading " if " already read).
  Condition condition() {
    Condition c;
    c.parent = parent_name();
    if (accept(" in ")) {
      c.values = values();
      return c;
    }
    static constexpr std::pair<std::string_view, ConditionOp> kOps[] = {{" >= ", ConditionOp::Ge},
                                                                        {" <= ", ConditionOp::Le},
                                                                        {" != ", ConditionOp::Ne},
                                                                        {" > ", ConditionOp::Gt},
                                                                        {" < ", ConditionOp::Lt}};
    for (const auto& [text, op] : kOps) {
      if (accept(text)) {
        c.op = op;
        c.values.emplace_back(number<int64_t>("an integer"));
        return c;
      }
    }
    fail("'in', '>=', '>', '<=', '<' or '!='");
  }

  // The text up to the next ',', ']' or '}' (or the end), as a number of type T.
  template <typename T>
  T number(const std::string& what) {
    size_t end = pos_;
    while (end < line_.size() && line_[end] != ',' && line_[end] != ']' && line_[end] != '}') {
      ++end;
    }
    T value{};
    const char* first = line_.data() + pos_;
    const char* last = line_.data() + end;
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || ptr != last || first == last) fail(what);
    pos_ = end;
    return value;
  }

  // "{float 0.1, int 3, string \"a\"}"
  std::vector<ParamValue> values() {
    expect("{");
    std::vector<ParamValue> out;
    while (!accept("}")) {
      if (!out.empty()) expect(", ");
      if (accept("float ")) {
        out.emplace_back(number<double>("a float"));
      } else if (accept("int ")) {
        out.emplace_back(number<int64_t>("an integer"));
      } else if (accept("string ")) {
        out.emplace_back(quoted());
      } else {
        fail("'float', 'int' or 'string' and a value, or '}'");
      }
    }
    return out;
  }

  // "log [low, high]" or "linear [low, high]"
  template <typename T>
  std::pair<bool, std::pair<T, T>> range(const std::string& what) {
    bool log = false;
    if (accept("log ")) {
      log = true;
    } else if (!accept("linear ")) {
      fail("'log' or 'linear'");
    }
    expect("[");
    const T low = number<T>(what);
    expect(", ");
    const T high = number<T>(what);
    expect("]");
    return {log, {low, high}};
  }

 private:
  std::string_view line_;
  int number_;
  size_t pos_ = 0;
};

}  // namespace

SearchSpace SearchSpace::from_fingerprint(const std::string& text) {
  SearchSpace space;
  size_t start = 0;
  int line_number = 0;
  while (start < text.size()) {
    ++line_number;
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string_view line = std::string_view(text).substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    LineReader r(line, line_number);
    std::string name = r.name();
    Dimension dim;
    if (r.accept("float ")) {
      const auto [log, bounds] = r.range<double>("a float");
      dim = FloatDim{bounds.first, bounds.second, log};
    } else if (r.accept("int ")) {
      const auto [log, bounds] = r.range<int64_t>("an integer");
      dim = IntDim{bounds.first, bounds.second, log};
    } else if (r.accept("categorical ")) {
      dim = CategoricalDim{r.values()};
    } else if (r.accept("grid ")) {
      dim = GridDim{r.values()};
    } else {
      r.fail("a kind: 'float', 'int', 'categorical' or 'grid'");
    }
    std::optional<Condition> condition;
    if (r.accept(" if ")) condition = r.condition();
    if (!r.at_end()) r.fail(condition ? "the end of the line" : "' if ' or the end of the line");
    try {
      if (condition) {
        space.add(std::move(name), std::move(dim), std::move(*condition));
      } else {
        space.add(std::move(name), std::move(dim));
      }
    } catch (const InvalidArgument& e) {
      throw DataError("search space line " + std::to_string(line_number) + " '" +
                      std::string(line) + "': " + e.what());
    }
  }
  try {
    space.check_conditions();
  } catch (const InvalidArgument& e) {
    throw DataError(std::string("search space: ") + e.what());
  }
  return space;
}

}  // namespace krill::hpo
