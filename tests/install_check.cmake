# Installs the built project into a scratch prefix, then builds a program
# outside the tree against it twice: with find_package(musicgen) (the CMake
# package, examples/outside) and with pkg-config, and runs both.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... [-DEXTRA_FLAGS=...] -P tests/install_check.cmake
# EXTRA_FLAGS: compiler and linker flags the outside program needs too (the sanitizers).
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}\n${err}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f lib/cmake/musicgen/musicgenConfig.cmake lib/pkgconfig/musicgen.pc include/musicgen/autograd/ops.h
          lib/libmg_engine.a lib/libmg_models.a lib/libmg_io.a)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "install: ${prefix}/${f} missing")
  endif()
endforeach()

run("configure examples/outside against the package" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples/outside
    -B ${WORK_DIR}/outside -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix}
    "-DCMAKE_CXX_FLAGS=${EXTRA_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${EXTRA_FLAGS}")
run("build examples/outside" ${CMAKE_COMMAND} --build ${WORK_DIR}/outside)
run("run the example built with find_package" ${WORK_DIR}/outside/fit_line)

execute_process(COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${prefix}/lib/pkgconfig pkg-config --cflags --libs musicgen
                RESULT_VARIABLE rc OUTPUT_VARIABLE flags ERROR_VARIABLE err OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags --libs musicgen failed: ${err}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
separate_arguments(extra UNIX_COMMAND "${EXTRA_FLAGS}")
run("build with pkg-config" c++ -O2 ${extra} ${SOURCE_DIR}/examples/fit_line.cpp -o ${WORK_DIR}/fit_line_pc ${flags})
run("run the example built with pkg-config" ${WORK_DIR}/fit_line_pc)
