# Collector configuration loading (included from collector/CMakeLists.txt).
target_sources(vigil_collector PRIVATE ${CMAKE_CURRENT_LIST_DIR}/config.cc)
vigil_test(collector_config_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/config_test.cc
  LIBS vigil::collector)
