#include "fallbench/results/json_path.hpp"

#include <charconv>

namespace fallbench::results {

using json = nlohmann::json;

json const* find_at(json const& j, std::string_view path) {
  json const* at = &j;
  while (!path.empty()) {
    auto const dot = path.find('.');
    auto const step = path.substr(0, dot);
    if (at->is_object()) {
      auto it = at->find(step);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else if (at->is_array()) {
      std::size_t index = 0;
      auto const [end, ec] = std::from_chars(step.data(), step.data() + step.size(), index);
      if (step.empty() || ec != std::errc{} || end != step.data() + step.size() || index >= at->size()) return nullptr;
      at = &(*at)[index];
    } else {
      return nullptr;
    }
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  }
  return at;
}

json const& value_at(json const& j, std::string_view path) {
  static json const null;
  auto const* v = find_at(j, path);
  return v ? *v : null;
}

std::optional<double> number_at(json const& j, std::string_view path) {
  auto const* v = find_at(j, path);
  if (!v || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

double number_at(json const& j, std::string_view path, double fallback) { return number_at(j, path).value_or(fallback); }

std::optional<std::string> string_at(json const& j, std::string_view path) {
  auto const* v = find_at(j, path);
  if (!v || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

std::string string_at(json const& j, std::string_view path, std::string fallback) {
  auto s = string_at(j, path);
  return s ? std::move(*s) : std::move(fallback);
}

}  // namespace fallbench::results
