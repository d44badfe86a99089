// A main for the fuzz targets (fuzz/*.cpp) without libFuzzer: runs LLVMFuzzerTestOneInput on every
// file named, and on every file of every folder named, once. Under ctest it replays the committed
// corpus, the spec seeds and the inputs that once crashed a target, with the ordinary compiler, so
// the targets' oracles and the regressions hold on every build (docs/fuzzing.md).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size);

namespace {

void run_file(std::filesystem::path const& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> const bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  LLVMFuzzerTestOneInput(reinterpret_cast<std::uint8_t const*>(bytes.data()), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t files = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path const arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      std::vector<std::filesystem::path> paths;
      for (auto const& entry : std::filesystem::directory_iterator(arg))
        if (entry.is_regular_file()) paths.push_back(entry.path());
      std::sort(paths.begin(), paths.end());
      for (auto const& p : paths) run_file(p), ++files;
    } else if (std::filesystem::is_regular_file(arg)) {
      run_file(arg), ++files;
    } else {
      std::fprintf(stderr, "fuzz replay: %s: no such file or folder\n", argv[i]);
      return 2;
    }
  }
  if (files == 0) {
    std::fprintf(stderr, "fuzz replay: no input to run\n");
    return 2;
  }
  std::printf("fuzz replay: %zu inputs, every oracle held\n", files);
  return 0;
}
