// JsonWriter: a minimal streaming JSON writer for the CLI's --json output. Non-finite numbers are
// written as null (JSON has no NaN).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace krill::cli {

class JsonWriter {
 public:
  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  void key(std::string_view k);
  void value(std::string_view v);
  void value(const char* v) { value(std::string_view(v)); }
  void value(double v);
  void value(int64_t v);
  void value(int v) { value(static_cast<int64_t>(v)); }
  void value(bool v);
  template <class T>
  void field(std::string_view k, const T& v) {
    key(k);
    value(v);
  }
  const std::string& str() const { return out_; }

 private:
  void open(char c);
  void close(char c);
  void separate();
  std::string out_;
  bool need_comma_ = false;
  bool after_key_ = false;
};

}  // namespace krill::cli
