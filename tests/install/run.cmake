# The install test (CTest `install`, label install; tests/CMakeLists.txt): installs krill's build
# into a fresh prefix, builds tests/install as a project of its own against it, and runs what it
# built. Run as
#   cmake -DBUILD_DIR=build -DSOURCE_DIR=. -DWORK_DIR=build/install-test -DGENERATOR=Ninja
#         -DCXX_COMPILER=c++ -P tests/install/run.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run.cmake: -D${var}=... is missing")
  endif()
endforeach()

# Runs a command; on failure prints its output and fails. Its output goes to `out`.
function(step name out)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE stdout ERROR_VARIABLE stdout)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name} failed (${rc}): ${ARGN}\n${stdout}")
  endif()
  set(${out} "${stdout}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

step("cmake --install" out ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
file(GLOB_RECURSE config ${prefix}/*/krillConfig.cmake)
foreach(file include/krill/hpo/study.hpp include/krill/core/error.hpp
             include/krill/exec/local_executor.hpp include/krill/store/open.hpp)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "cmake --install did not install ${file}")
  endif()
endforeach()
if(NOT config)
  message(FATAL_ERROR "cmake --install did not install krillConfig.cmake")
endif()
message(STATUS "installed into ${prefix}: ${config}")
step("the installed krill" out ${prefix}/bin/krill --version)
if(NOT out MATCHES "^krill [0-9]")
  message(FATAL_ERROR "the installed krill --version printed:\n${out}")
endif()

# A project of its own: it knows the prefix only through CMAKE_PREFIX_PATH. The package registry
# is off, so that no other krill on this machine is found instead.
step("configuring tests/install" out ${CMAKE_COMMAND}
  -S ${SOURCE_DIR}/tests/install -B ${WORK_DIR}/build -G ${GENERATOR}
  -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DKRILL_EXAMPLES_DIR=${SOURCE_DIR}/examples)
if(NOT out MATCHES "krill [0-9.]+ from ${prefix}/")
  message(FATAL_ERROR "find_package(krill) did not find the installed krill in ${prefix}:\n${out}")
endif()
step("building tests/install" out ${CMAKE_COMMAND} --build ${WORK_DIR}/build -j 2)

# The programs were compiled against the installed headers, never krill's src/.
file(READ ${WORK_DIR}/build/compile_commands.json commands)
string(FIND "${commands}" "${SOURCE_DIR}/src" found)
if(NOT found EQUAL -1)
  message(FATAL_ERROR "tests/install was compiled with krill's src/ on its include path:\n${commands}")
endif()

# custom_objective (krill::hpo): 256 trials into a SQLite database; a second run resumes the
# complete study and finds the same best trial.
set(db ${WORK_DIR}/rosenbrock.db)
set(expected "^256 trials in [^;]*rosenbrock\\.db; best f = [0-9]+\\.[0-9]+ at x=")
step("custom_objective" first ${WORK_DIR}/build/custom_objective ${db})
if(NOT first MATCHES "${expected}")
  message(FATAL_ERROR "custom_objective printed:\n${first}\nexpected: ${expected}")
endif()
step("custom_objective, again" second ${WORK_DIR}/build/custom_objective ${db})
if(NOT second STREQUAL first)
  message(FATAL_ERROR "custom_objective's second run (resuming the study) printed:\n${second}"
                      "instead of:\n${first}")
endif()
message(STATUS "custom_objective: ${first}")

# whole_library (krill::krill): a forward pass, a refused study file and a text chart.
set(expected "^output \\[32, 3\\], 195 parameters \\(expected 195\\), bad study file refused, chart drawn")
step("whole_library" out ${WORK_DIR}/build/whole_library)
if(NOT out MATCHES "${expected}")
  message(FATAL_ERROR "whole_library printed:\n${out}\nexpected: ${expected}")
endif()
message(STATUS "whole_library: ${out}")
