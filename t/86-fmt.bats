#!/usr/bin/env bats
# src/fmt.c (the program's formatter in place of snprintf), src/inet.c
# (inet_ntop) and src/ascii.c (strcasecmp, strtol) give what the C library
# gives: t/fmt-test.c compares them over edge values and every buffer size.
# And no format string in the program asks fmt for a conversion it does not
# support (it would print "%?"): the compiler checks the arguments, this
# checks the conversions.

load helpers

@test "fmt, inet_text and the ascii functions agree with the C library" {
	make -s -C "$BATS_TEST_DIRNAME/.." t/fmt-test
	run "$BATS_TEST_DIRNAME/fmt-test"
	echo "$output" | tail -20
	[ "$status" -eq 0 ]
	[[ ${lines[-1]} =~ ^fmt-test:\ [0-9]{5,}\ checks,\ 0\ failures$ ]]
}

# Every %... in a string literal of src/*.c (the TLS module keeps
# snprintf; strftime's formats are strftime's), but for the few literals
# that are no format (a character set, the Header setting's "%%" escape,
# fmt's own marker).
unsupported_conversions() {
	/usr/bin/python3 - "$@" <<'PY'
import re, sys
ok = re.compile(r'%(%|[-0]*[0-9]*(\.([0-9]+|\*))?s|[-0]*[0-9]*(ll|l|z)?[diuxX]|-?[0-9]*c)')
not_formats = {('src/filter.c', '0123456789_./:,+@%=- '),
               ('src/header.c', '%'), ('src/fmt.c', '%?')}
bad = 0
for path in sys.argv[1:]:
    for n, line in enumerate(open(path), 1):
        if 'strftime' in line:
            continue
        for lit in re.findall(r'"((?:[^"\\]|\\.)*)"', line):
            if (path, lit) in not_formats:
                continue
            i = lit.find('%')
            while i >= 0:
                m = ok.match(lit, i)
                if m is None:
                    print('%s:%d: %s' % (path, n, lit))
                    bad += 1
                    break
                i = lit.find('%', m.end())
sys.exit(1 if bad else 0)
PY
}

@test "every format string in the program uses only conversions fmt supports" {
	cd "$BATS_TEST_DIRNAME/.."
	run unsupported_conversions $(ls src/*.c | grep -v '^src/tls\.c$')
	echo "$output"
	[ "$status" -eq 0 ]
	# The check itself sees what fmt does not support.
	printf 'x = fmt(b, n, "%%5.2f %%s", 1.5, "y");\n' >"$T/bad.c"
	run unsupported_conversions "$T/bad.c"
	[ "$status" -eq 1 ]
	[[ $output == *bad.c:1:* ]]
}
