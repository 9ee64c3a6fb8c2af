#!/bin/sh
# A miniature bootstrap: pull with unmodified docker.io names, unpack one rootfs per machine.
set -eu
rm -rf /var/lib/hw/oci /var/lib/hw/web /var/lib/hw/client
mkdir -p /var/lib/hw/out
skopeo copy --quiet docker://dekube-test/httpd:1 oci:/var/lib/hw/oci:httpd
skopeo copy --quiet docker://busybox:1.36 oci:/var/lib/hw/oci:busybox
umoci unpack --image /var/lib/hw/oci:httpd /var/lib/hw/web >/dev/null
umoci unpack --image /var/lib/hw/oci:busybox /var/lib/hw/client >/dev/null
printf '127.0.0.1 localhost\n10.231.0.10 web\n10.231.0.11 client\n' > /var/lib/hw/hosts
