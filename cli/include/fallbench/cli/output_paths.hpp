#pragma once
/// Output paths checked before the work that fills them: `fallbench run` measures for minutes and
/// `fallbench compare` reads a baseline before they write anything, so a file that cannot be written
/// must stop them at once (exit 2), naming the flag and the reason, not after the study.
/// Startup code: errors are usage_error.

#include "fallbench/cli/args.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace fallbench::cli {

namespace detail {

/// `--flag PATH: why`.
inline usage_error output_error(std::string_view flag, std::filesystem::path const& path, std::string const& why) {
  return usage_error("--" + std::string(flag) + " " + path.string() + ": " + why);
}

/// Makes `dir` and its missing parents (the command would make them anyway), or says why it cannot.
inline void make_directory(std::string_view flag, std::filesystem::path const& shown, std::filesystem::path const& dir) {
  namespace fs = std::filesystem;
  if (dir.empty()) return;
  // The nearest part of the path that exists decides: a file there cannot hold a directory.
  for (fs::path p = dir; !p.empty(); p = p.parent_path()) {
    std::error_code ec;
    auto const st = fs::status(p, ec);
    if (fs::exists(st)) {
      if (!fs::is_directory(st)) throw output_error(flag, shown, p.string() + " is not a directory");
      break;
    }
    if (p == p.parent_path()) break;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw output_error(flag, shown, "cannot create the directory " + dir.string() + " (" + ec.message() + ")");
}

}  // namespace detail

/**
 * Check that the file `path`, given as `--flag`, can be written: its directory exists or is made now,
 * the path is not a directory, and the file opens for writing. An existing file is left as it was
 * (opened to append, nothing written); a new one is removed again after the try.
 * @throws usage_error `--flag PATH: reason`.
 */
inline void check_output_file(std::string_view flag, std::filesystem::path const& path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw detail::output_error(flag, path, "an empty path");
  detail::make_directory(flag, path, path.parent_path());
  std::error_code ec;
  auto const st = fs::status(path, ec);
  if (fs::is_directory(st)) throw detail::output_error(flag, path, "is a directory, not a file");
  bool const existed = fs::exists(st);
  errno = 0;
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (!f) {
    int const err = errno;
    throw detail::output_error(flag, path,
                               "cannot be opened for writing (" + std::string(err ? std::strerror(err) : "unknown error") + ")");
  }
  std::fclose(f);
  if (!existed) fs::remove(path, ec);
}

/**
 * Check that the directory `dir`, given as `--flag`, can hold the files `names`: it exists or is made
 * now, and each file can be written (check_output_file).
 * @throws usage_error `--flag DIR: reason`, or `--flag DIR/NAME: reason` for one of the files.
 */
inline void check_output_directory(std::string_view flag, std::filesystem::path const& dir,
                                   std::vector<std::string> const& names) {
  if (dir.empty()) throw detail::output_error(flag, dir, "an empty path");
  detail::make_directory(flag, dir, dir);
  for (auto const& name : names) check_output_file(flag, dir / name);
}

/// One output file per flag: two flags naming the same file would overwrite each other's output.
/// `outputs` holds (flag, path) pairs of the flags given.
inline void check_distinct_outputs(std::vector<std::pair<std::string, std::filesystem::path>> const& outputs) {
  namespace fs = std::filesystem;
  auto const where = [](fs::path const& p) {
    std::error_code ec;
    auto const full = fs::weakly_canonical(fs::absolute(p, ec), ec);
    return ec ? p.lexically_normal() : full;
  };
  for (std::size_t i = 0; i < outputs.size(); ++i)
    for (std::size_t j = i + 1; j < outputs.size(); ++j)
      if (where(outputs[i].second) == where(outputs[j].second))
        throw detail::output_error(outputs[j].first, outputs[j].second,
                                   "the same file as --" + outputs[i].first + " (each output needs its own file)");
}

}  // namespace fallbench::cli
