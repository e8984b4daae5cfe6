"""A small authoritative DNS server for tests: zones parsed from master-file text.

It answers like an authoritative server (AA set, REFUSED outside its zones, NXDOMAIN and NODATA
with the SOA, TC and a TCP retry for large answers), which is all the health check relies on,
and lets each test rewrite a zone at will.
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone


class ZoneServer:
    """Authoritative answers for the loaded zones on 127.0.0.1 (same port for UDP and TCP)."""

    def __init__(self, *zones: dns.zone.Zone) -> None:
        self.zones: dict[dns.name.Name, dns.zone.Zone] = {}
        self.load(*zones)
        self._udp, self._tcp = _bind_pair(self)
        self.port = int(self._udp.server_address[1])
        self._threads = [
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
            for server in (self._udp, self._tcp)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def load(self, *zones: dns.zone.Zone) -> None:
        self.zones = {zone.origin: zone for zone in zones if zone.origin is not None}

    def close(self) -> None:
        for server in (self._udp, self._tcp):
            server.shutdown()
            server.server_close()

    def answer(self, wire: bytes, *, tcp: bool) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        question = query.question[0]
        zone = self._zone_for(question.name)
        if zone is None:
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        response.flags |= dns.flags.AA
        self._fill(response, zone, question.name, question.rdtype)
        limit = 65535 if tcp else max(512, query.payload if query.edns >= 0 else 512)
        reply = response.to_wire()
        if len(reply) > limit:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.AA | dns.flags.TC
            reply = truncated.to_wire()
        return reply

    def _zone_for(self, name: dns.name.Name) -> dns.zone.Zone | None:
        matches = [origin for origin in self.zones if name.is_subdomain(origin)]
        return self.zones[max(matches, key=len)] if matches else None

    @staticmethod
    def _fill(
        response: dns.message.Message,
        zone: dns.zone.Zone,
        qname: dns.name.Name,
        qtype: dns.rdatatype.RdataType,
    ) -> None:
        node = zone.get_node(qname)
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            rdataset = node.get_rdataset(dns.rdataclass.IN, qtype) or node.get_rdataset(
                dns.rdataclass.IN, dns.rdatatype.CNAME
            )
            if rdataset is not None:
                response.answer.append(
                    dns.rrset.from_rdata_list(qname, rdataset.ttl, list(rdataset))
                )
        if not response.answer and zone.origin is not None:
            soa = zone.find_rdataset(zone.origin, dns.rdatatype.SOA)
            response.authority.append(dns.rrset.from_rdata_list(zone.origin, soa.ttl, list(soa)))


def _bind_pair(
    server: ZoneServer,
) -> tuple[socketserver.ThreadingUDPServer, socketserver.ThreadingTCPServer]:
    class Udp(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            data, sock = self.request
            sock.sendto(server.answer(data, tcp=False), self.client_address)

    class Tcp(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            header = self.rfile.read(2)
            if len(header) == 2:
                (length,) = struct.unpack("!H", header)
                reply = server.answer(self.rfile.read(length), tcp=True)
                self.wfile.write(struct.pack("!H", len(reply)) + reply)

    for _ in range(20):
        udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), Udp)
        udp.daemon_threads = True
        try:
            tcp = socketserver.ThreadingTCPServer(("127.0.0.1", udp.server_address[1]), Tcp)
        except OSError:
            udp.server_close()
            continue
        tcp.daemon_threads = True
        return udp, tcp
    raise RuntimeError("no free port for UDP and TCP together")


def dead_address() -> str:
    """A loopback port nothing answers on (queries to it time out)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"
