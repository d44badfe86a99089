# The fuzz targets and what each links: read by fuzz/CMakeLists.txt (libFuzzer executables) and by
# tests/CMakeLists.txt (replay executables that run the committed corpus under ctest), each defining
# fallbench_fuzz_target(name source libraries...) its own way.
fallbench_fuzz_target(eio_packet eio_packet.cpp fallbench::codec)
fallbench_fuzz_target(eio_payload eio_payload.cpp fallbench::codec)
fallbench_fuzz_target(sio_packet sio_packet.cpp fallbench::codec)
fallbench_fuzz_target(ws_frame ws_frame.cpp fallbench::codec)
fallbench_fuzz_target(chatproto chatproto.cpp fallbench::chatproto nlohmann_json::nlohmann_json)
fallbench_fuzz_target(scenario scenario.cpp fallbench::loadgen)
fallbench_fuzz_target(trace trace.cpp fallbench::loadgen)
# The framer is the proxy's detail (tools/proxy/src).
fallbench_fuzz_target(proxy_http proxy_http.cpp fallbench::proxy)
target_include_directories(${FALLBENCH_FUZZ_PREFIX}proxy_http PRIVATE ${PROJECT_SOURCE_DIR}/tools/proxy/src)
# The server's HTTP handling over a loopback socket (see the file for why not an in-memory stream).
fallbench_fuzz_target(server_http server_http.cpp fallbench::chat fallbench::transport_server)
