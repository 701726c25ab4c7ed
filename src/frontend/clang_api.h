/* libclang-19 through dlopen: the functions of its C API the rewriter uses,
 * resolved once into a table. libclang is only loaded when a source is
 * rewritten (never when a cached object is loaded). */
#ifndef VISOR_FRONTEND_CLANG_API_H
#define VISOR_FRONTEND_CLANG_API_H

#include <stddef.h>

#include <clang-c/Index.h>

#define VISOR_CLANG_FUNCS(X)                                                                 \
	X(clang_createIndex)                                                                 \
	X(clang_disposeIndex)                                                                \
	X(clang_parseTranslationUnit2)                                                       \
	X(clang_disposeTranslationUnit)                                                      \
	X(clang_getTranslationUnitCursor)                                                    \
	X(clang_visitChildren)                                                               \
	X(clang_getCursorKind)                                                               \
	X(clang_getCursorType)                                                               \
	X(clang_getCursorExtent)                                                             \
	X(clang_getCursorLocation)                                                           \
	X(clang_getCursorSpelling)                                                           \
	X(clang_getCursorReferenced)                                                         \
	X(clang_getCursorDefinition)                                                         \
	X(clang_isCursorDefinition)                                                          \
	X(clang_Cursor_getStorageClass)                                                      \
	X(clang_Cursor_getNumArguments)                                                      \
	X(clang_Cursor_getArgument)                                                          \
	X(clang_Cursor_getOffsetOfField)                                                     \
	X(clang_Cursor_isNull)                                                               \
	X(clang_equalCursors)                                                                \
	X(clang_getFieldDeclBitWidth)                                                        \
	X(clang_getCursorUnaryOperatorKind)                                                  \
	X(clang_getCursorBinaryOperatorKind)                                                 \
	X(clang_getRangeStart)                                                               \
	X(clang_getRangeEnd)                                                                 \
	X(clang_getFileLocation)                                                             \
	X(clang_getExpansionLocation)                                                        \
	X(clang_getSpellingLocation)                                                         \
	X(clang_getFileName)                                                                 \
	X(clang_getFile)                                                                     \
	X(clang_File_isEqual)                                                                \
	X(clang_getCString)                                                                  \
	X(clang_disposeString)                                                               \
	X(clang_getCanonicalType)                                                            \
	X(clang_getPointeeType)                                                              \
	X(clang_getTypeDeclaration)                                                          \
	X(clang_getTypeSpelling)                                                             \
	X(clang_getArrayElementType)                                                         \
	X(clang_Type_getSizeOf)                                                              \
	X(clang_Type_visitFields)                                                            \
	X(clang_getNumDiagnostics)                                                           \
	X(clang_getDiagnostic)                                                               \
	X(clang_disposeDiagnostic)                                                           \
	X(clang_getDiagnosticSeverity)                                                       \
	X(clang_getDiagnosticLocation)                                                       \
	X(clang_getDiagnosticSpelling)

struct visor_clang {
#define VISOR_CLANG_FIELD(name) typeof(&name) name;
	VISOR_CLANG_FUNCS(VISOR_CLANG_FIELD)
#undef VISOR_CLANG_FIELD
};

/* The table, loading libclang-19 on first use: NULL with err filled when it
 * is missing (the caller returns -ENOEXEC). */
const struct visor_clang *visor_clang_load(char *err, size_t err_len);

/* A CXString as a malloc'd C string (never NULL unless out of memory). */
char *visor_clang_string(const struct visor_clang *lc, CXString s);

#endif
