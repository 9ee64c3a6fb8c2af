#!/bin/sh
# netns.sh up NAME HOST_VETH ADDRESS/PREFIX GATEWAY BRIDGE | down NAME
# A machine's network, ready before nspawn starts (field notes: no race, no DHCP needed).
set -eu
case "$1" in
up)
    name=$2 veth=$3 address=$4 gateway=$5 bridge=$6
    # No udev in a container: wait for the bridge with networkd's own tool.
    /lib/systemd/systemd-networkd-wait-online -q -i "$bridge:no-carrier" --timeout=20
    ip netns del "$name" 2>/dev/null || true
    ip netns add "$name"
    ip link add "$veth" type veth peer name eth0 netns "$name"
    ip link set "$veth" master "$bridge" up
    ip -n "$name" link set lo up
    ip -n "$name" addr add "$address" dev eth0
    ip -n "$name" link set eth0 up
    ip -n "$name" route add default via "$gateway"
    ;;
down)
    # The veth pair goes with the namespace.
    ip netns del "$2" 2>/dev/null || true
    ;;
*)
    echo "usage: $0 up|down ..." >&2
    exit 2
    ;;
esac
