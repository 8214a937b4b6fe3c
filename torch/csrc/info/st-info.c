/* st-info: prints the one-line summary that ends `make libtorch`. */
#include <stdio.h>
#include "shim.h"

int main(int argc, char **argv) {
  const char *source = argc > 1 ? argv[1] : "?";
  char *version = NULL, *blas = NULL;
  int cuda_build = 0, devices = 0;
  st_err e = st_init();
  if (e == NULL) e = st_build_info(&version, &cuda_build, &blas);
  if (e == NULL) e = st_cuda_device_count(&devices);
  if (e != NULL) {
    fprintf(stderr, "make libtorch: the shim loads but fails: %s\n", e);
    return 1;
  }
  printf("libtorch %s from %s | CUDA: %s, %d device(s) | BLAS: %s\n", version, source,
         cuda_build ? "yes" : "no", devices, blas);
  st_free_err(version);
  st_free_err(blas);
  return 0;
}
