"""The seed tutorial (shared/seed-tutorial.rst) run as written, with catools for caproto.

Only the destinations change: 127.0.0.1 and the fixture's repeater/server ports instead
of '' (broadcast) and 5065/CA_SERVER_PORT. The seed's non-executed circuit block is made
to work with the small ``send``/``recv`` helpers it calls.
"""
from __future__ import annotations

import catools
import catools as ca
from catools import NEED_DATA

TIMEOUT = 5.0


def _drain_udp(udp_sock, b) -> None:
    """Read datagrams that are still on their way (the seed registers twice)."""
    udp_sock.settimeout(0.3)
    try:
        while True:
            bytes_received, address = udp_sock.recvfrom(1024)
            b.recv(bytes_received, address)
            while b.next_command() is not NEED_DATA:
                pass
    except OSError:
        pass
    finally:
        udp_sock.settimeout(TIMEOUT)


def _circuit_part(address, name, search_response):
    """The seed's circuit block, made runnable; returns (first value, commands seen)."""
    import socket

    circuit = caproto_circuit = catools.VirtualCircuit(our_role=catools.CLIENT,
                                                       address=address, priority=0)
    assert caproto_circuit.address == address
    chan1 = catools.ClientChannel(circuit, name)
    socket = socket.create_connection(chan1.circuit.address, timeout=TIMEOUT)
    try:
        def send(circuit, command):
            bytes_to_send = circuit.send(command)
            socket.sendall(bytes_to_send)

        def recv(circuit, until=None):
            commands = []
            while True:
                while (command := circuit.next_command()) is not NEED_DATA:
                    commands.append(command)
                if commands and (until is None or isinstance(commands[-1], until)):
                    return commands
                bytes_received = socket.recv(65536)
                assert bytes_received, "server closed the circuit"
                circuit.recv(bytes_received)

        # Initialize our new TCP-based CA connection with a VersionRequest.
        command = ca.VersionRequest(priority=0, version=13)
        bytes_to_send = chan1.circuit.send(command)
        assert bytes_to_send == bytes(command)
        socket.send(bytes_to_send)
        (version,) = recv(chan1.circuit)
        assert isinstance(version, ca.VersionResponse) and version.version == 13
        # Send info about us.
        send(chan1.circuit, ca.HostNameRequest("localhost"))
        send(chan1.circuit, ca.ClientNameRequest("username"))
        pv1 = name
        send(chan1.circuit, ca.CreateChanRequest(name=pv1, cid=chan1.cid, version=13))
        commands = recv(chan1.circuit, until=ca.CreateChanResponse)
        assert [type(c) for c in commands] == [ca.AccessRightsResponse,
                                               ca.CreateChanResponse]
        assert chan1.state is ca.ChannelState.CONNECTED
        assert chan1.native_data_type is ca.ChannelType.DOUBLE
        assert chan1.native_data_count == 1
        assert chan1.access_rights & ca.AccessRights.READ

        # read with ReadNotifyRequest
        request = ca.ReadNotifyRequest(data_type=ca.ChannelType.TIME_DOUBLE, data_count=1,
                                       sid=chan1.sid, ioid=chan1.circuit.new_ioid())
        send(chan1.circuit, request)
        (reading,) = recv(chan1.circuit)
        assert isinstance(reading, ca.ReadNotifyResponse)
        assert reading.ioid == request.ioid and reading.status == 1
        assert reading.metadata.timestamp[0] > 0

        send(chan1.circuit, chan1.clear())
        (cleared,) = recv(chan1.circuit)
        assert isinstance(cleared, ca.ClearChannelResponse)
        assert chan1.state is ca.ChannelState.CLOSED
        return reading.data[0]
    finally:
        socket.close()


def test_seed_tutorial(softioc):
    ioc = softioc()
    import socket

    udp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        udp_sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
        udp_sock.settimeout(TIMEOUT)
        bytes_to_send = b'\x00\x18\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
        udp_sock.sendto(bytes_to_send, ('127.0.0.1', ioc.repeater_port))
        data, address = udp_sock.recvfrom(1024)
        assert data[:2] == b"\x00\x11"  # REPEATER_CONFIRM
        assert len(data) == 16
    finally:
        udp_sock.close()

    udp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        udp_sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
        udp_sock.settimeout(TIMEOUT)
        b = catools.Broadcaster(our_role=catools.CLIENT)
        command = catools.RepeaterRegisterRequest('0.0.0.0')
        bytes_to_send = b.send(command)
        udp_sock.sendto(bytes_to_send, ('127.0.0.1', ioc.repeater_port))
        assert bytes_to_send == (b'\x00\x18\x00\x00\x00\x00\x00\x00'
                                 b'\x00\x00\x00\x00\x00\x00\x00\x00')
        udp_sock.sendto(bytes_to_send, ('127.0.0.1', ioc.repeater_port))

        bytes_received, address = udp_sock.recvfrom(1024)
        b.recv(bytes_received, address)
        confirm = b.next_command()
        assert isinstance(confirm, catools.RepeaterConfirmResponse)
        assert confirm.repeater_address == "127.0.0.1"
        assert b.next_command() is catools.NEED_DATA
        _drain_udp(udp_sock, b)  # the second registration's confirmation

        name = "TST:ai"
        CA_SERVER_PORT = ioc.port
        bytes_to_send = b.send(catools.VersionRequest(priority=0, version=13),
                               catools.SearchRequest(name=name, cid=0, version=13))
        udp_sock.sendto(bytes_to_send, ('127.0.0.1', CA_SERVER_PORT))

        bytes_received, address = udp_sock.recvfrom(1024)
        b.recv(bytes_received, address)
        version = b.next_command()
        search_response = b.next_command()
        assert isinstance(version, catools.VersionResponse) and version.version == 13
        assert isinstance(search_response, catools.SearchResponse)
        assert search_response.cid == 0
        assert b.next_command() is catools.NEED_DATA
        assert address == ("127.0.0.1", ioc.port)
        assert search_response.address == ("127.0.0.1", ioc.port)
    finally:
        udp_sock.close()

    value = _circuit_part(address, name, search_response)
    caget = ioc.c_tool("caget", "TST:ai")
    assert caget.returncode == 0, caget.stderr
    out_name, out_value = caget.stdout.decode().split()
    assert out_name == "TST:ai"
    # caget prints with the record's PREC-independent %g default ("3.14159")
    assert f"{value:g}" == out_value
