# Installation (issue 7): `cmake --install BUILD --prefix DIR` (or `make
# install PREFIX=DIR`) puts under DIR
#   bin/visor, lib/libvisor.so (+ soname links), lib/libvisor.a,
#   include/visor/*.h, lib/pkgconfig/visor.pc,
#   share/visor/include/ (the BPF-side headers the front end compiles with),
#   share/man/man1/visor.1, share/man/man3/*.3.
# The shared library is the static one's objects linked whole (they are
# built -fPIC for that), so the sources compile once.
set(VISOR_VERSION 0.7.0)
set(VISOR_SOVERSION 0)

set(VISOR_SHARED_STUB ${CMAKE_BINARY_DIR}/visor_shared_stub.c)
file(WRITE ${VISOR_SHARED_STUB} "/* libvisor.so: every object of libvisor.a, linked whole. */\n")
add_library(visor_shared SHARED ${VISOR_SHARED_STUB})
target_link_libraries(visor_shared PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,visor_core>")
target_link_libraries(visor_shared PUBLIC PkgConfig::LIBBPF PkgConfig::LIBELF)
# Every symbol resolved at link time, except in sanitizer builds: clang links
# its sanitizer runtimes into executables only, so there the library leaves
# them to the program. Fuzzing builds do not need the shared library at all.
if(NOT VISOR_SANITIZE AND NOT VISOR_FUZZ)
  target_link_options(visor_shared PRIVATE -Wl,--no-undefined)
endif()
if(VISOR_FUZZ)
  set_target_properties(visor_shared PROPERTIES EXCLUDE_FROM_ALL ON)
endif()
set_target_properties(visor_shared PROPERTIES OUTPUT_NAME visor VERSION ${VISOR_VERSION}
  SOVERSION ${VISOR_SOVERSION})

install(TARGETS visor RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS visor_core ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS visor_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  NAMELINK_COMPONENT Unspecified)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/visor DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(DIRECTORY ${CMAKE_SOURCE_DIR}/src/frontend/bpf-include/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/visor/include)
file(GLOB VISOR_MAN1 CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/man/*.1)
file(GLOB VISOR_MAN3 CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/man/*.3)
install(FILES ${VISOR_MAN1} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${VISOR_MAN3} DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)

# visor.pc: relative to ${prefix} so the copy works wherever --prefix put it.
configure_file(${CMAKE_SOURCE_DIR}/cmake/visor.pc.in ${CMAKE_BINARY_DIR}/visor.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/visor.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
