#!/usr/bin/env bash
# Two network namespaces on a bridge, one per HA node, as ECS gives each task its own address:
#   scripts/ha-netns.sh up   TAG   -> namespaces tandem-TAG-a (10.77.N.11) and tandem-TAG-b (10.77.N.12),
#                                     host side of the bridge 10.77.N.1 (N from TAG's checksum)
#   scripts/ha-netns.sh cut  TAG a -> node a's link down (partition: no DB, no peer)
#   scripts/ha-netns.sh heal TAG a
#   scripts/ha-netns.sh down TAG
#   scripts/ha-netns.sh subnet TAG -> prints 10.77.N
# Needs root (ip netns). Each node then runs with `ip netns exec tandem-TAG-a tandem run …`.
#
# Node-to-node traffic is bridged, and with br_netfilter loaded (Docker loads it) bridged packets
# pass iptables' FORWARD chain, whose policy Docker sets to DROP. `up` therefore inserts one ACCEPT
# rule scoped to this bridge (in and out on it) and `down` deletes it, so the host's rules end as
# they were whatever FORWARD's policy is. Without an iptables command no such rules exist to pass.
set -euo pipefail
cmd=${1:?usage: $0 up|down|cut|heal|subnet TAG [a|b]}
tag=${2:?TAG}
n=$(( $(printf '%s' "$tag" | cksum | cut -d' ' -f1) % 200 + 20 ))
net="10.77.$n"
br="thb$tag"
forward_rule=(FORWARD -i "$br" -o "$br" -j ACCEPT)
have_iptables() { command -v iptables >/dev/null 2>&1; }
case "$cmd" in
  subnet) echo "$net" ;;
  up)
    ip link add "$br" type bridge
    ip addr add "$net.1/24" dev "$br"
    ip link set "$br" up
    if have_iptables && ! iptables -C "${forward_rule[@]}" 2>/dev/null; then
      iptables -I "${forward_rule[@]}"
    fi
    for node in a b; do
      ns="tandem-$tag-$node"
      host_if="th$tag$node"
      ip netns add "$ns"
      ip link add "$host_if" type veth peer name eth0 netns "$ns"
      ip link set "$host_if" master "$br" up
      ip -n "$ns" link set lo up
      ip -n "$ns" addr add "$net.$([ "$node" = a ] && echo 11 || echo 12)/24" dev eth0
      ip -n "$ns" link set eth0 up
      ip -n "$ns" route add default via "$net.1"
    done
    ;;
  cut)  ip link set "th$tag${3:?a|b}" down ;;
  heal) ip link set "th$tag${3:?a|b}" up ;;
  down)
    for node in a b; do
      ip netns del "tandem-$tag-$node" 2>/dev/null || true
      ip link del "th$tag$node" 2>/dev/null || true
    done
    ip link del "$br" 2>/dev/null || true
    # Every copy, should `up` have run twice without a `down`.
    if have_iptables; then
      while iptables -D "${forward_rule[@]}" 2>/dev/null; do :; done
    fi
    ;;
  *) echo "usage: $0 up|down|cut|heal|subnet TAG [a|b]" >&2; exit 2 ;;
esac
