# Fuzz targets: one per parser of untrusted input, each a source
# src/**/NAME_fuzz.cc that defines LLVMFuzzerTestOneInput (docs/ARCHITECTURE.md,
# "Fuzzing").
#
# Every build makes a replay driver per target (src/testing/fuzz_replay_main.cc)
# and registers the ctest test fuzz.replay.NAME, which runs the committed
# corpus fuzz/corpus/NAME/ and the crash reproducers fuzz/crashes/NAME/ once
# each: `make test` and the sanitizer presets replay them in seconds, with
# any compiler. The fuzz preset (MODELPOOL_FUZZ=ON, clang) makes libFuzzer
# binaries instead, build-fuzz/bin/fuzz_NAME, built by the target `fuzz` and
# run by `make fuzz` (fuzz/run); there only the libraries they link are built.

if(MODELPOOL_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "MODELPOOL_FUZZ needs clang (libFuzzer): use the fuzz preset")
  endif()
  add_custom_target(fuzz)
  # Boost.JSON compiled into the targets, instrumented like the rest, so that
  # the fuzzer sees its way through the JSON parser too (the system's
  # libboost_json is not instrumented).
  add_library(modelpool_fuzz_boost_json OBJECT src/testing/boost_json_fuzz.cc)
endif()

# modelpool_fuzz_target(NAME SOURCE LIBRARIES...)
function(modelpool_fuzz_target name source)
  if(MODELPOOL_FUZZ)
    set(target fuzz_${name})
    add_executable(${target} ${source} $<TARGET_OBJECTS:modelpool_fuzz_boost_json>)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
    add_dependencies(fuzz ${target})
  else()
    set(target fuzz_replay_${name})
    add_executable(${target} ${source} src/testing/fuzz_replay_main.cc)
    add_test(NAME fuzz.replay.${name}
             COMMAND ${target} ${CMAKE_SOURCE_DIR}/fuzz/corpus/${name} ${CMAKE_SOURCE_DIR}/fuzz/crashes/${name})
    set_tests_properties(fuzz.replay.${name} PROPERTIES TIMEOUT 60)
  endif()
  target_include_directories(${target} PRIVATE src)
  target_link_libraries(${target} PRIVATE ${ARGN})
endfunction()

modelpool_fuzz_target(http src/server/http_fuzz.cc modelpool_server modelpool_sim modelpool_core)
modelpool_fuzz_target(kserve src/server/kserve_fuzz.cc modelpool_server modelpool_sim modelpool_core)
modelpool_fuzz_target(openai src/server/openai_fuzz.cc modelpool_server modelpool_core)
modelpool_fuzz_target(multipart src/server/multipart_fuzz.cc modelpool_server modelpool_core)
modelpool_fuzz_target(audio src/audio/decode_fuzz.cc modelpool_audio modelpool_core)
modelpool_fuzz_target(config src/server/config_fuzz.cc modelpool_server modelpool_sim modelpool_process modelpool_core)
modelpool_fuzz_target(wire src/process/wire_fuzz.cc modelpool_process modelpool_core)
