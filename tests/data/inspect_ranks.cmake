# Preps the corpus with the real `spacebyte prep`, then checks that the
# samples `spacebyte data inspect` prints for 2 and 4 ranks, merged in
# global-batch order, equal the single-rank stream.
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${SPACEBYTE} prep --input ${CORPUS} --language_from "([a-z]+)\\.txt$"
                        --separator blank --shard_bytes 20000 --threads 2 --out ${WORK}/dataset
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "spacebyte prep failed: ${rc}")
endif()

function(inspect n r out)
  execute_process(COMMAND ${SPACEBYTE} data inspect --data ${WORK}/dataset --context 256
                          --batch 8 --dp_size ${n} --dp_rank ${r} --steps 50 --seed 3
                  RESULT_VARIABLE rc OUTPUT_VARIABLE text)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "spacebyte data inspect failed for dp ${r}/${n}: ${rc}")
  endif()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

inspect(1 0 single)
string(REGEX MATCHALL "[^\n]+" single_lines "${single}")
list(LENGTH single_lines count)
if(NOT count EQUAL 400)
  message(FATAL_ERROR "expected 400 samples, got ${count}")
endif()
foreach(n 2 4)
  set(merged "")
  foreach(r RANGE 0 ${n})
    if(r LESS n)
      inspect(${n} ${r} text)
      string(APPEND merged "${text}")
    endif()
  endforeach()
  # Lines start with "step position"; sorting numerically on both restores
  # global order, then the lines must equal the single-rank ones.
  string(REGEX MATCHALL "[^\n]+" lines "${merged}")
  set(keyed "")
  foreach(line ${lines})
    string(REGEX MATCH "^([0-9]+) ([0-9]+) " m "${line}")
    math(EXPR key "${CMAKE_MATCH_1} * 8 + ${CMAKE_MATCH_2}" OUTPUT_FORMAT DECIMAL)
    string(LENGTH "00000${key}" len)
    math(EXPR start "${len} - 6")
    string(SUBSTRING "00000${key}" ${start} 6 padded)
    list(APPEND keyed "${padded}|${line}")
  endforeach()
  list(SORT keyed)
  list(TRANSFORM keyed REPLACE "^[0-9]+\\|" "")
  if(NOT "${keyed}" STREQUAL "${single_lines}")
    message(FATAL_ERROR "dp_size ${n}: the ranks' samples differ from the single-rank stream")
  endif()
endforeach()
message(STATUS "1, 2 and 4 ranks give the same ${count} samples")
