/* abi_smoke: the smallest plugin that exercises the loading mechanism every Tollgate plugin uses.
 *
 * It is a C shared object that defines TSPluginInit and calls back into a function the host
 * binary exports (through a linker dynamic list, not -rdynamic). The symbol stays undefined
 * in this object and is resolved by the dynamic loader at dlopen(RTLD_NOW) time.
 */
#include <stddef.h>

/* Exported by the host: records one string the plugin sends back. Returns the number of
 * strings recorded so far. */
extern int TSSmokeHostRecord(const char* text);

/* Plugin entry point: reports argc as text, then every argument after argv[0]. */
void TSPluginInit(int argc, const char* argv[]) {
  static const char* const kCounts[] = {"argc=0", "argc=1", "argc=2", "argc=3", "argc=many"};
  TSSmokeHostRecord(kCounts[argc < 4 ? (argc < 0 ? 4 : argc) : 4]);
  for (int i = 1; i < argc; ++i) {
    if (argv[i] != NULL) TSSmokeHostRecord(argv[i]);
  }
}
