"""Shared compiler options and thin rule wrappers for every Tollgate target.

Every project target uses COPTS (C++) or C_COPTS (C: plugins and the C ABI header checks).
The wrappers add them and link tests and binaries statically against project libraries, so
that a binary's exported symbol list (see plugin_api/) is the whole story of what a plugin sees.
"""

# Warnings are errors for project code. System headers come in through -isystem (Bazel's
# `includes` and the compiler's own search path), so their warnings never fire.
_COMMON = [
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wshadow",
    "-Wimplicit-fallthrough",
    # GCC 12 warns about members left out of C++20 designated initializers even when they have
    # default member initializers (fixed in GCC 13); that idiom is how options structs are used.
    "-Wno-missing-field-initializers",
]

_CXX_ONLY = [
    "-Wnon-virtual-dtor",
]

COPTS = _COMMON + _CXX_ONLY

C_COPTS = _COMMON + ["-std=c99"]

def tg_cc_library(name, copts = [], linkstatic = True, **kwargs):
    native.cc_library(name = name, copts = COPTS + copts, linkstatic = linkstatic, **kwargs)

def tg_cc_binary(name, copts = [], linkstatic = True, **kwargs):
    native.cc_binary(name = name, copts = COPTS + copts, linkstatic = linkstatic, **kwargs)

def tg_cc_test(name, copts = [], linkstatic = True, size = "small", **kwargs):
    native.cc_test(
        name = name,
        copts = COPTS + copts,
        linkstatic = linkstatic,
        size = size,
        **kwargs
    )

def tg_c_plugin(name, srcs, copts = [], deps = [], **kwargs):
    """A plugin shared object written in C: `lib<name>.so`, loaded with dlopen(RTLD_NOW).

    Symbols the plugin leaves undefined (the TS* API) are resolved against the host binary's
    exported dynamic symbols at load time.
    """
    native.cc_binary(
        name = "lib" + name + ".so",
        srcs = srcs,
        copts = C_COPTS + copts,
        linkshared = True,
        deps = deps,
        **kwargs
    )
