# The recsys.plot_* pictures render: each SVG document is parsed by
# xmllint, converted to PNG by rsvg-convert (librsvg2-bin), and the PNG
# has the asked size, is not blank (a share of its pixels is not white)
# and shows the colour of its first series (or the heat map's scale).  An
# evil label (</text><script>) leaves no script element.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Compress::Zlib qw(uncompress);

for my $tool ('rsvg-convert', 'xmllint')
{
	plan skip_all => "$tool is not installed (test/lib.sh RECSYS_PACKAGES lists it)"
	  unless system("command -v $tool >/dev/null 2>&1") == 0;
}

# Decodes an 8-bit RGB or RGBA non-interlaced PNG: (width, height, rows
# of [r, g, b] triples).
sub decode_png
{
	my ($file) = @_;
	open(my $fh, '<:raw', $file) or die "cannot read $file: $!";
	local $/;
	my $png = <$fh>;
	close($fh);
	die "not a PNG" unless substr($png, 0, 8) eq "\x89PNG\r\n\x1a\n";
	my ($pos, $idat, $w, $h, $depth, $type, $interlace) = (8, '');
	while ($pos < length($png))
	{
		my ($len, $name) = unpack('N A4', substr($png, $pos, 8));
		my $data = substr($png, $pos + 8, $len);
		($w, $h, $depth, $type, undef, undef, $interlace) = unpack('N N C C C C C', $data)
		  if $name eq 'IHDR';
		$idat .= $data if $name eq 'IDAT';
		$pos += 12 + $len;
	}
	die "unsupported PNG (depth $depth, type $type, interlace $interlace)"
	  unless $depth == 8 && ($type == 2 || $type == 6) && !$interlace;
	my $bpp = $type == 6 ? 4 : 3;
	my $raw = uncompress($idat);
	my $stride = $w * $bpp;
	my @prev = (0) x $stride;
	my @pixels;
	for my $y (0 .. $h - 1)
	{
		my $filter = ord(substr($raw, $y * ($stride + 1), 1));
		my @cur = unpack('C*', substr($raw, $y * ($stride + 1) + 1, $stride));
		for my $i (0 .. $stride - 1)
		{
			my $a = $i >= $bpp ? $cur[ $i - $bpp ] : 0;
			my $b = $prev[$i];
			my $c = $i >= $bpp ? $prev[ $i - $bpp ] : 0;
			my $pred =
				$filter == 0 ? 0
			  : $filter == 1 ? $a
			  : $filter == 2 ? $b
			  : $filter == 3 ? int(($a + $b) / 2)
			  :                paeth($a, $b, $c);
			$cur[$i] = ($cur[$i] + $pred) & 255;
		}
		push @pixels, [ map { [ @cur[ $_ * $bpp .. $_ * $bpp + 2 ] ] } 0 .. $w - 1 ];
		@prev = @cur;
	}
	return ($w, $h, \@pixels);
}

sub paeth
{
	my ($a, $b, $c) = @_;
	my $p = $a + $b - $c;
	my ($pa, $pb, $pc) = (abs($p - $a), abs($p - $b), abs($p - $c));
	return $pa <= $pb && $pa <= $pc ? $a : $pb <= $pc ? $b : $c;
}

my $node = PostgreSQL::Test::Cluster->new('plots');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION recsys;
	CREATE TABLE blocks AS
		SELECT u AS user_id, 100 + 16 * ((u - 1) / 32) + j AS item_id
		FROM generate_series(1, 256) u, generate_series(0, 15) j WHERE j <> u % 16;
	CREATE TABLE tr AS SELECT * FROM blocks WHERE (user_id * 7 + item_id) % 5 <> 0;
	CREATE TABLE te AS SELECT * FROM blocks WHERE (user_id * 7 + item_id) % 5 = 0;
	SELECT 1 FROM recsys.train_ease('tr', 10, model => 'ease');
	SELECT 1 FROM recsys.train_popular('tr', model => '</text><script>alert(1)</script>');
});

my %plots = (
	pr_curve => [ 640, 400, q{SELECT recsys.plot_pr_curve('{ease,"</text><script>alert(1)</script>"}', 'te')} ],
	metrics_at_k => [ 800, 500, q{SELECT recsys.plot_metrics_at_k('{ease}', 'te', width => 800, height => 500)} ],
	tune => [ 640, 400, q{
		SELECT recsys.plot_tune(array_agg(params), array_agg(value), 'factors', 'regularization', 'ndcg@10')
		FROM recsys.tune('als', 'tr', 'te', '{"factors": [2, 4], "regularization": [0.01, 1]}',
						 '{"iterations": 3}', model => 'tuned')} ],
	lines => [ 640, 400, q{
		SELECT recsys.plot_lines(array_agg(v ORDER BY v, d), array_agg(d::float8 ORDER BY v, d),
								 array_agg(r ORDER BY v, d), array_agg(r - 0.01 ORDER BY v, d),
								 array_agg(r + 0.01 ORDER BY v, d), 'Cumulative conversion </title><script>',
								 'day of the test', 'conversion rate (share of users)')
		FROM (SELECT v, d, 0.05 + (CASE v WHEN 'A' THEN 0.01 ELSE 0.02 END) * (1 - exp(-d / 5.0)) AS r
			  FROM unnest('{A,B}'::text[]) v, generate_series(1, 14) d) s} ],
);
my $dir = PostgreSQL::Test::Utils::tempdir;
for my $name (sort keys %plots)
{
	my ($width, $height, $sql) = @{ $plots{$name} };
	my $svg = $node->safe_psql('postgres', $sql);
	my $file = "$dir/$name.svg";
	open(my $fh, '>', $file) or die;
	print $fh $svg;
	close($fh);
	is(system("xmllint --noout $file"), 0, "$name: xmllint parses it");
	my $scripts = `xmllint --xpath 'count(//*[local-name()="script"])' $file`;
	chomp $scripts;
	is($scripts, '0', "$name: no script element");
	is(system("rsvg-convert -o $dir/$name.png $file"), 0, "$name: rsvg-convert renders it");
	my ($w, $h, $pixels) = decode_png("$dir/$name.png");
	is("${w}x$h", "${width}x$height", "$name: the PNG is ${width}x$height");
	my ($ink, $first_color) = (0, 0);
	for my $row (@$pixels)
	{
		for my $p (@$row)
		{
			$ink++ if $p->[0] + $p->[1] + $p->[2] < 3 * 235;
			# the first series' blue (#0072B2) or the heat map's dark end (#440154)
			$first_color++
			  if (abs($p->[0] - 0) < 8 && abs($p->[1] - 0x72) < 8 && abs($p->[2] - 0xB2) < 8)
			  || (abs($p->[0] - 0x44) < 8 && abs($p->[1] - 1) < 8 && abs($p->[2] - 0x54) < 8);
		}
	}
	my $share = $ink / ($w * $h);
	note(sprintf('%s: %.1f%% of the pixels drawn, %d of the first colour', $name, 100 * $share, $first_color));
	cmp_ok($share, '>', 0.02, "$name: not blank");
	cmp_ok($first_color, '>', 30, "$name: the first series (or scale) is drawn");
}

$node->stop;
done_testing();
