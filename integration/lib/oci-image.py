#!/usr/bin/env python3
"""Wrap a rootfs tar into an OCI image layout tar for `ctr images import`.

    oci-image.py ROOTFS_TAR OUT_TAR NAME

No registry is reachable from the test machines, so the image is made here:
one uncompressed layer (the rootfs tar as it is), a config naming that layer
as its only diff, a manifest, and an index whose annotation gives containerd
the image's name.
"""
import hashlib
import io
import json
import sys
import tarfile


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def descriptor(media_type, data, **extra):
    return dict(mediaType=media_type, digest=digest(data), size=len(data), **extra)


def main(rootfs_tar, out_tar, name):
    with open(rootfs_tar, "rb") as f:
        layer = f.read()
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
        # Uncompressed, so the layer's digest is also its diff id.
        "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
    }).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", config),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar", layer)],
    }).encode()
    platform = {"architecture": "amd64", "os": "linux"}
    index = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [descriptor(
            "application/vnd.oci.image.manifest.v1+json", manifest, platform=platform,
            annotations={"io.containerd.image.name": name,
                         "org.opencontainers.image.ref.name": name.rsplit(":", 1)[-1]})],
    }).encode()

    files = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)]
    files += [("blobs/sha256/" + digest(b)[7:], b) for b in (config, manifest, layer)]
    with tarfile.open(out_tar, "w") as out:
        for path, data in files:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            out.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
