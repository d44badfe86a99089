# Every dependency comes from a Debian package; scripts/setup installs them. Nothing is downloaded here.
find_package(Threads REQUIRED)
# Beast 345 (Boost 1.81): Debian's default Boost 1.74 does not build under C++20.
find_package(Boost 1.81...<1.82 REQUIRED CONFIG COMPONENTS url)
# OpenSSL (Debian libssl-dev) through Asio's ssl::stream: https and wss for serve, the client, the proxy.
find_package(OpenSSL 3 REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED CONFIG)
# valijson (Debian libvalijson-dev, header only, no CMake package): result documents are validated
# against reports/schema/result.schema.json before `report` and `compare` read them.
find_path(VALIJSON_INCLUDE_DIR valijson/validator.hpp)
if(NOT VALIJSON_INCLUDE_DIR)
  message(FATAL_ERROR "valijson not found (apt-get install libvalijson-dev; scripts/setup installs it)")
endif()

if(FALLBENCH_BUILD_TESTS)
  find_package(GTest REQUIRED CONFIG)
  find_package(PkgConfig REQUIRED)
  # Debian's libcpp-httplib-dev ships no CMake package, only a pkg-config file.
  pkg_check_modules(httplib REQUIRED IMPORTED_TARGET cpp-httplib)
endif()

# google/benchmark (Debian libbenchmark-dev 1.7.1 ships a CMake package) for bench/micro only: without
# it the micro-benchmarks are skipped and everything else builds.
find_package(benchmark 1.7 CONFIG QUIET)
if(NOT benchmark_FOUND)
  message(STATUS "google/benchmark not found (apt-get install libbenchmark-dev): micro_benchmarks not built")
endif()

# Asio and Beast are compiled once, in fallbench_asio (transports/asio_impl.cpp), instead of in every
# translation unit that includes them: a Beast TU costs 20-30 s on a 2-core machine.
add_library(fallbench_boost INTERFACE)
target_link_libraries(fallbench_boost INTERFACE Boost::headers Threads::Threads)
target_compile_definitions(fallbench_boost INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
