#pragma once
/// Command-line flags for the `fallbench` subcommands: `--name value`, `--name=value`, boolean
/// switches, repeatable flags and a generated --help. Startup code: errors are exceptions.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fallbench::cli {

/// A bad command line; main prints it with a pointer to --help and exits 2.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A failure with an exit status of its own (documented in the command's --help), e.g. an input that
/// is not a valid result document (3); main prints it and exits with `status`.
class exit_error : public std::runtime_error {
 public:
  exit_error(int status, std::string const& what) : std::runtime_error(what), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

/// Declares flags, parses argv, answers typed questions about them.
class args {
 public:
  args(std::string command, std::string summary) : command_(std::move(command)), summary_(std::move(summary)) {}

  /// Declare a flag taking a value. `fallback` is shown in --help and returned when absent.
  args& flag(std::string name, std::string meta, std::string help, std::string fallback = {}) {
    specs_.push_back({std::move(name), std::move(meta), std::move(help), std::move(fallback), false});
    return *this;
  }
  /// Declare a switch (no value).
  args& toggle(std::string name, std::string help) {
    specs_.push_back({std::move(name), {}, std::move(help), {}, true});
    return *this;
  }
  /// Declare the positional arguments' name for --help.
  args& positional(std::string meta, std::string help) {
    positional_meta_ = std::move(meta);
    positional_help_ = std::move(help);
    return *this;
  }

  /// Parse; returns false when --help was asked (the help text is then in help()).
  bool parse(std::vector<std::string_view> const& argv) {
    for (std::size_t i = 0; i < argv.size(); ++i) {
      std::string_view a = argv[i];
      if (a == "--help" || a == "-h") return false;
      if (a.size() < 3 || a.substr(0, 2) != "--") {
        if (positional_meta_.empty()) throw usage_error("unexpected argument '" + std::string(a) + "'");
        positionals_.emplace_back(a);
        continue;
      }
      a.remove_prefix(2);
      std::string_view value;
      bool has_value = false;
      if (auto eq = a.find('='); eq != std::string_view::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        has_value = true;
      }
      auto const* s = find(a);
      if (!s) throw usage_error("unknown flag --" + std::string(a));
      if (s->is_switch) {
        if (has_value) throw usage_error("--" + s->name + " takes no value");
        values_[s->name].emplace_back("1");
        continue;
      }
      if (!has_value) {
        if (i + 1 >= argv.size()) throw usage_error("--" + s->name + " needs a value (" + s->meta + ")");
        value = argv[++i];
      }
      values_[s->name].emplace_back(value);
    }
    return true;
  }

  bool has(std::string const& name) const { return values_.contains(name); }

  std::string str(std::string const& name) const {
    if (auto it = values_.find(name); it != values_.end()) return it->second.back();
    auto const* s = find(name);
    return s ? s->fallback : std::string{};
  }

  std::vector<std::string> all(std::string const& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? std::vector<std::string>{} : it->second;
  }

  /// An integer flag within [lo, hi].
  std::int64_t integer(std::string const& name, std::int64_t lo, std::int64_t hi) const {
    auto const text = str(name);
    std::int64_t v = 0;
    auto const [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size())
      throw usage_error("--" + name + " must be an integer, got '" + text + "'");
    if (v < lo || v > hi)
      throw usage_error("--" + name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                        ", got " + text);
    return v;
  }

  /// A number flag within [lo, hi] (fractions allowed: `--measure 0.5`).
  double number(std::string const& name, double lo, double hi) const {
    auto const text = str(name);
    double v = 0;
    auto const [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || ptr != text.data() + text.size() || !std::isfinite(v))
      throw usage_error("--" + name + " must be a number, got '" + text + "'");
    if (v < lo || v > hi) {
      std::ostringstream range;
      range << "--" << name << " must be between " << lo << " and " << hi << ", got " << text;
      throw usage_error(range.str());
    }
    return v;
  }

  /// One of `choices`.
  std::string choice(std::string const& name, std::vector<std::string> const& choices) const {
    auto v = str(name);
    if (std::find(choices.begin(), choices.end(), v) != choices.end()) return v;
    std::string list;
    for (auto const& c : choices) list += (list.empty() ? "" : ", ") + c;
    throw usage_error("--" + name + " must be one of " + list + ", got '" + v + "'");
  }

  std::vector<std::string> const& positionals() const { return positionals_; }

  std::string help() const {
    std::ostringstream out;
    out << "usage: fallbench " << command_ << " [flags]" << (positional_meta_.empty() ? "" : " " + positional_meta_)
        << "\n\n" << summary_ << "\n\n";
    if (!positional_meta_.empty()) out << "  " << positional_meta_ << "\n      " << positional_help_ << "\n";
    for (auto const& s : specs_) {
      out << "  --" << s.name << (s.meta.empty() ? "" : " " + s.meta) << "\n      " << s.help;
      if (!s.fallback.empty()) out << " (default: " << s.fallback << ")";
      out << "\n";
    }
    out << "  --help\n      Show this help.\n";
    return out.str();
  }

 private:
  struct spec {
    std::string name, meta, help, fallback;
    bool is_switch;
  };
  spec const* find(std::string_view name) const {
    auto it = std::find_if(specs_.begin(), specs_.end(), [&](spec const& s) { return s.name == name; });
    return it == specs_.end() ? nullptr : &*it;
  }

  std::string command_, summary_, positional_meta_, positional_help_;
  std::vector<spec> specs_;
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positionals_;
};

}  // namespace fallbench::cli
