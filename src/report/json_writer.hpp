// JsonWriter: a minimal streaming JSON writer (the report's data, the CLI's --json output).
// Non-finite numbers are written as null (JSON has no NaN); strings are escaped, and '<' is
// written as \u003c so that the text can sit inside an HTML <script> element as it is.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace krill::report {

class JsonWriter {
 public:
  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  void key(std::string_view k);
  void value(std::string_view v);
  void value(const std::string& v) { value(std::string_view(v)); }
  void value(const char* v) { value(std::string_view(v)); }
  void value(double v);
  void value(int64_t v);
  void value(int v) { value(static_cast<int64_t>(v)); }
  void value(bool v);
  void null();
  template <class T>
  void field(std::string_view k, const T& v) {
    key(k);
    value(v);
  }
  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void open(char c);
  void close(char c);
  void separate();
  std::string out_;
  bool need_comma_ = false;
  bool after_key_ = false;
};

}  // namespace krill::report
