#!/usr/bin/env bats
# What `make install` ships works as shipped: the units pass systemd's own
# checks, the sample configuration is valid, the man pages render without
# warnings, and the sample filters filter.

load helpers

install_tree() {
	make -s -C "$BATS_TEST_DIRNAME/.." install DESTDIR="$T/root" PREFIX=/usr \
		sysconfdir=/etc xinetddir=/etc/xinetd.d >/dev/null
}

@test "make install puts every file in place under DESTDIR, with the paths filled in" {
	install_tree
	for f in usr/sbin/proxsmtpd usr/lib/proxsmtpd/proxsmtpd-tls.so \
		usr/share/man/man8/proxsmtpd.8 \
		usr/share/man/man5/proxsmtpd.conf.5 usr/lib/systemd/system/proxsmtpd.socket \
		usr/lib/systemd/system/proxsmtpd@.service etc/xinetd.d/proxsmtpd \
		etc/proxsmtpd.conf etc/proxsmtpd.conf.sample \
		usr/share/proxsmtpd/filters/add-header.sh usr/share/proxsmtpd/filters/spamc.sh \
		usr/share/proxsmtpd/filters/clamdscan.sh \
		usr/share/proxsmtpd/systemd/proxsmtpd-transparent.conf \
		usr/share/proxsmtpd/systemd/proxsmtpd-strict.conf usr/lib/sysusers.d/proxsmtpd.conf; do
		[ -s "$T/root/$f" ] || { echo "missing: $f"; return 1; }
	done
	! grep -rl '@sbindir@\|@sysconfdir@' "$T/root" || false
	grep -q '^ExecStart=/usr/sbin/proxsmtpd -S -f /etc/proxsmtpd.conf$' \
		"$T/root/usr/lib/systemd/system/proxsmtpd@.service"
	grep -q 'server[[:space:]]*= /usr/sbin/proxsmtpd$' "$T/root/etc/xinetd.d/proxsmtpd"
	make -s -C "$BATS_TEST_DIRNAME/.." uninstall DESTDIR="$T/root" PREFIX=/usr \
		sysconfdir=/etc xinetddir=/etc/xinetd.d
	# Only the operator's configuration stays.
	[ "$(find "$T/root" -type f | sed "s|$T/root/||")" = etc/proxsmtpd.conf ]
}

@test "the installed man pages name the installed paths: PREFIX=/usr, no /usr/local, no relative FILES" {
	install_tree
	m8=$T/root/usr/share/man/man8/proxsmtpd.8
	m5=$T/root/usr/share/man/man5/proxsmtpd.conf.5
	# No placeholder is left, and nothing of the default prefix.
	! grep -n '@[a-z]*dir@' "$m8" "$m5" || false
	! grep -n '/usr/local/share/proxsmtpd\|/usr/local/etc/proxsmtpd\|/usr/local/sbin/proxsmtpd\|/usr/local/lib/systemd' "$m8" "$m5" || false
	# The examples run the installed filters.
	grep -q '^FilterCommand: /usr/share/proxsmtpd/filters/spamc.sh$' "$m5"
	grep -q '^FilterCommand: /usr/share/proxsmtpd/filters/clamdscan.sh$' "$m5"
	grep -q '^\.I /etc/proxsmtpd.conf$' "$m5"
	# Every file of FILES in proxsmtpd(8) is an absolute path (the spool
	# file, .IB, is named after TempDirectory), and the ones
	# make install writes exist under DESTDIR.
	sed -n '/^\.SH FILES/,/^\.SH /p' "$m8" | sed -n 's/^\.I \([^ ]*\).*/\1/p' |
		sed 's/\\-/-/g' >"$T/files"
	cat "$T/files"
	[ "$(wc -l <"$T/files")" -ge 7 ]
	! grep -v '^/' "$T/files" || false
	for f in /usr/lib/systemd/system/proxsmtpd.socket /usr/lib/systemd/system/proxsmtpd@.service \
		/usr/share/proxsmtpd/systemd/proxsmtpd-transparent.conf /etc/xinetd.d/proxsmtpd \
		/usr/share/proxsmtpd/filters/ /etc/proxsmtpd.conf /etc/proxsmtpd.conf.sample; do
		grep -qxF "$f" "$T/files"
		[ -e "$T/root$f" ]
	done
	# They still render cleanly once filled in.
	for m in "$m8" "$m5"; do
		run groff -man -Tutf8 -ww -z "$m"
		[ "$status" -eq 0 ] && [ -z "$output" ]
	done
}

@test "the shipped systemd units pass systemd-analyze verify" {
	install_tree
	mkdir -p "$T/units"
	cp "$T/root/usr/lib/systemd/system/proxsmtpd.socket" \
		"$T/root/usr/lib/systemd/system/proxsmtpd@.service" "$T/units/"
	# verify resolves ExecStart= on this machine: point it at the build.
	sed -i "s|/usr/sbin/proxsmtpd|$PROXSMTPD|" "$T/units/proxsmtpd@.service"
	cd "$T/units"
	run systemd-analyze verify --man=no ./proxsmtpd.socket ./proxsmtpd@.service
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	grep -q '^Accept=yes' proxsmtpd.socket
	grep -q '^StandardInput=socket' proxsmtpd@.service
	grep -q '^StandardError=journal' proxsmtpd@.service
	grep -q '^NoNewPrivileges=yes' proxsmtpd@.service
	grep -q '^CapabilityBoundingSet=$' proxsmtpd@.service
	grep -q '^SystemCallFilter=@system-service$' proxsmtpd@.service
	# The promises of PrivateTmp=, ProtectSystem=strict and DynamicUser=,
	# kept without a mount namespace per connection (t/systemd/units.bats
	# checks them under a real systemd): a private spool directory that
	# goes with the session; -S, whose Landlock rules make the file system
	# read-only but for it; a static system user from sysusers.d.
	grep -q '^RuntimeDirectory=proxsmtpd/%i$' proxsmtpd@.service
	grep -q '^RuntimeDirectoryMode=0700$' proxsmtpd@.service
	grep -q '^ExecStart=[^ ]*/proxsmtpd[^ /]* -S ' proxsmtpd@.service
	grep -q '^User=proxsmtpd$' proxsmtpd@.service
	grep -q '^u proxsmtpd ' "$T/root/usr/lib/sysusers.d/proxsmtpd.conf"
	! grep -q '^DynamicUser=yes' proxsmtpd@.service || false
}

@test "the transparent drop-in grants CAP_NET_ADMIN and nothing else, and verifies" {
	install_tree
	mkdir -p "$T/units/proxsmtpd@.service.d"
	cp "$T/root/usr/lib/systemd/system/proxsmtpd.socket" \
		"$T/root/usr/lib/systemd/system/proxsmtpd@.service" "$T/units/"
	cp "$T/root/usr/share/proxsmtpd/systemd/proxsmtpd-transparent.conf" \
		"$T/units/proxsmtpd@.service.d/transparent.conf"
	sed -i "s|/usr/sbin/proxsmtpd|$PROXSMTPD|" "$T/units/proxsmtpd@.service"
	cd "$T/units"
	run systemd-analyze verify --man=no ./proxsmtpd.socket ./proxsmtpd@.service
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -h '^[A-Za-z]*Capabilit' "proxsmtpd@.service.d/transparent.conf")" = \
		"$(printf 'CapabilityBoundingSet=CAP_NET_ADMIN\nAmbientCapabilities=CAP_NET_ADMIN')" ]
}

@test "the strict drop-in verifies with the unit" {
	install_tree
	mkdir -p "$T/units/proxsmtpd@.service.d"
	cp "$T/root/usr/lib/systemd/system/proxsmtpd.socket" \
		"$T/root/usr/lib/systemd/system/proxsmtpd@.service" "$T/units/"
	cp "$T/root/usr/share/proxsmtpd/systemd/proxsmtpd-strict.conf" \
		"$T/units/proxsmtpd@.service.d/strict.conf"
	sed -i "s|/usr/sbin/proxsmtpd|$PROXSMTPD|" "$T/units/proxsmtpd@.service"
	cd "$T/units"
	run systemd-analyze verify --man=no ./proxsmtpd.socket ./proxsmtpd@.service
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	grep -q '^ProtectSystem=strict$' proxsmtpd@.service.d/strict.conf
	grep -q '^PrivateTmp=yes$' proxsmtpd@.service.d/strict.conf
}

@test "the shipped xinetd entry runs the proxy, as shipped but for port and paths" {
	install_tree
	start_sink
	write_conf
	PORT=$(free_port)
	# The shipped entry, with the test's port, binary and config; and a
	# log file, since no syslogd runs here.
	sed -e "s|= 10025|= $PORT|" -e "s|/usr/sbin/proxsmtpd|$PROXSMTPD|" \
		-e "s|-f /etc/proxsmtpd.conf|-f $CONF|" \
		-e "s|log_type.*|log_type = FILE $T/xinetd.log|" \
		"$T/root/etc/xinetd.d/proxsmtpd" >"$T/xinetd.conf"
	chmod 777 "$SPOOL"; chmod +t "$SPOOL"	# user nobody spools here
	xinetd -dontfork -pidfile "$T/xinetd.pid" -f "$T/xinetd.conf" >>"$PROXY_LOG" 2>&1 &
	LAUNCHER=$!; track $LAUNCHER
	wait_port "$PORT"
	run swaks_send --body 'through xinetd as shipped'
	[ "$status" -eq 0 ]
	[[ "$(data_reply)" == 250* ]]
	grep -q 'through xinetd as shipped' "$(sink_file)"
}

@test "the sample configuration is valid as shipped" {
	run "$PROXSMTPD" -t -f "$BATS_TEST_DIRNAME/../proxsmtpd.conf.sample"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qi '^OutAddress: 127.0.0.1:10026$' <<<"$output"
	# Every setting it documents, uncommented, is valid too.
	sed -n 's/^#\([A-Z][A-Za-z]*: .*\)$/\1/p' "$BATS_TEST_DIRNAME/../proxsmtpd.conf.sample" |
		grep -v '^OutAddress:' | awk -F: '!seen[$1]++' >"$T/all.conf"
	echo 'OutAddress: 127.0.0.1:10026' >>"$T/all.conf"
	cat "$T/all.conf"
	sed -i 's|^TempDirectory: .*|TempDirectory: /tmp|' "$T/all.conf"
	run "$PROXSMTPD" -t -f "$T/all.conf"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "the man pages render without a warning" {
	for m in man/proxsmtpd.8 man/proxsmtpd.conf.5; do
		run groff -man -Tutf8 -ww -z "$BATS_TEST_DIRNAME/../$m"
		echo "$m: $output"
		[ "$status" -eq 0 ] && [ -z "$output" ]
	done
}

@test "the man page documents every setting the program knows" {
	"$PROXSMTPD" -t -f "$BATS_TEST_DIRNAME/../proxsmtpd.conf.sample" |
		sed -n 's/^\([A-Za-z]*\):.*/\1/p' >"$T/settings"
	[ "$(wc -l <"$T/settings")" -ge 14 ]
	while read -r name; do
		grep -q "$name" "$BATS_TEST_DIRNAME/../man/proxsmtpd.conf.5" ||
			{ echo "not in proxsmtpd.conf(5): $name"; return 1; }
	done <"$T/settings"
}

@test "sample filter add-header.sh adds its header to a real message" {
	start_sink
	write_conf "FilterCommand: $BATS_TEST_DIRNAME/../filters/add-header.sh 'X-Sample: yes'"
	start_proxy
	run swaks_send --body 'sample filter'
	[[ "$(data_reply)" == 250* ]]
	grep -q '^X-Sample: yes$' "$(sink_file)"
	grep -q '^sample filter$' "$(sink_file)"
}

@test "sample filters spamc.sh and clamdscan.sh turn a missing scanner into a 451, not a bounce" {
	for f in spamc.sh clamdscan.sh; do
		sh -n "$BATS_TEST_DIRNAME/../filters/$f"
		stop_tracked; rm -rf "$T/sink"
		start_sink
		# An empty PATH but for the basics: the scanner is not there.
		mkdir -p "$T/bin"
		for tool in cat sh; do ln -sf "$(command -v $tool)" "$T/bin/$tool"; done
		write_conf "FilterCommand: PATH=$T/bin $BATS_TEST_DIRNAME/../filters/$f"
		start_proxy
		run swaks_send
		echo "$f: $(data_reply)"
		[[ "$(data_reply)" == 4[0-9][0-9]\ * ]]
		[ "$(sink_count)" -eq 0 ]
	done
}
