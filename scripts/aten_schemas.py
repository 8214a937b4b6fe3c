"""Print the schemas of the ATen operators registered with libtorch's dispatcher, one a line,
sorted: the input of torch/internal/atengen (the generated Go wrappers of package torch).

    /usr/bin/python3 scripts/aten_schemas.py > torch/internal/atengen/schemas/1.13.txt

TorchScript's own operators that share the aten:: namespace (aten::add.int, aten::add.str ...)
are not dispatcher operators and are left out: Go reaches operators through the dispatcher.
"""
import sys

import torch


def main():
    out = set()
    for s in torch._C._jit_get_all_schemas():
        text = str(s)
        if not text.startswith("aten::"):
            continue
        name = s.name + ("." + s.overload_name if s.overload_name else "")
        if torch._C._dispatch_has_kernel(name):
            out.add(text)
    sys.stdout.write("# libtorch %s\n" % torch.__version__.split("+")[0])
    for text in sorted(out):
        sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
