# Agent configuration loading (included from agent/CMakeLists.txt).
target_sources(vigil_agent PRIVATE ${CMAKE_CURRENT_LIST_DIR}/config.cc)
vigil_test(agent_config_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/config_test.cc LIBS vigil::agent)
