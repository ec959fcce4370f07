/*
 * shopgen.c - deterministic demo-shop generator for the recsys tests,
 * demos and benchmarks.
 *
 * This file owns the synthetic data set "shop": it writes ONE of the tables
 * shop.products, shop.users, shop.events (schema: shop_schema.sql) to stdout
 * in PostgreSQL COPY text format.  load_shop.sh builds and loads it.
 *
 *   shopgen --table products|users|events|tastes [--events N] [--seed S]
 *
 * (tastes: each user's appeal and purchase probability per product, for
 * the experiments' simulator; see write_tastes)
 *
 * Determinism: every random decision comes from a private xoshiro256**
 * generator seeded through splitmix64 from (seed, stream tag, entity index).
 * The catalogue, each user's profile and each user's events use separate
 * streams, so the three tables describe the same shop whichever one is
 * printed, and the output is byte-identical for a given (--events, --seed).
 * (Only a libm that rounds log/exp/cos differently could flip a rare
 * decision; glibc on x86-64 is the reference.)
 *
 * Sizes (E = --events, default 5000, seed default 42):
 *   products = max(60, E / 50)      e.g. E=5000 -> 100, E=10M -> 200,000
 *   users    = max(50, E / 25)      e.g. E=5000 -> 200, E=10M -> 400,000
 *   events   = exactly E rows.
 * Memory is O(products); users are regenerated from their seed on demand
 * and events are streamed, never stored.
 *
 * Ids are sparse and non-uniform on purpose (products 10000 + 7i + 0..4,
 * users 1000000 + 3i + 0..2), so code that assumes dense ids breaks.
 *
 * Generative model
 *   Catalogue: 12 categories, each with its own brands (4-6), adjectives and
 *     nouns; title = "<Brand> <Adjective> <Noun>" (a " 2", " 3" ... suffix
 *     makes repeats unique).  Each brand has a home price level; a product
 *     takes its brand's level with p=0.65, otherwise a random one
 *     (0 budget, 1 mid, 2 premium).  Price is log-normal around the
 *     category median times the level multiplier, rounded to .99 endings.
 *     Popularity is Zipf (1/rank) within a category, ranks are a random
 *     permutation; category sizes and traffic follow fixed category weights.
 *   Users: 1-3 preferred categories with random weights, one preferred
 *     price level, 1-2 favourite brands inside the preferred categories,
 *     a sign-up date in the last 3 years, a log-normal activity level.
 *     E rows are split over users: 2 each, the rest proportional to
 *     activity (cumulative rounding, so the total is exact).
 *   Sessions: a user produces sessions until the user's quota is used (the
 *     last session is cut to a time prefix, which keeps every invariant).
 *     A session covers one category: a preferred one with p=0.85, else one
 *     picked by global category popularity ("exploration").  Items are drawn
 *     by popularity * brand affinity * price-level match (exploration:
 *     popularity only); 20% of views revisit an item seen earlier in the
 *     session.  Each first view may be carted (about 15% of views, more for
 *     matching brand/level), and at checkout each cart is purchased with
 *     p=0.40.  So every purchase follows a view and a cart of the same item
 *     in the same session, with strictly increasing timestamps.
 *   Time: a 180-day window ending 2026-11-01 00:00:00+00; sessions start on
 *     a uniform day from the user's sign-up day on, at a diurnal hour.
 *     Sessions are short (mean ~4.5 views, under 11 hours worst case).
 *     Rows are grouped by user and session; sessions are not time-ordered.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Random numbers                                                      */
/* ------------------------------------------------------------------ */

typedef struct { uint64_t s[4]; } Rng;

/* Stream tags: one independent stream family per kind of entity. */
enum { STREAM_CATALOG = 1, STREAM_USER = 2, STREAM_EVENTS = 3 };

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x)
{
    *x += 0x9E3779B97F4A7C15ULL;
    return mix64(*x);
}

static Rng rng_stream(uint64_t seed, uint64_t tag, uint64_t index)
{
    uint64_t x = mix64(seed ^ mix64(tag * 0xD1B54A32D192ED03ULL)) ^
                 mix64(index + 0x632BE59BD9B4E019ULL * (tag + 1));
    Rng r = {{0}};
    for (int i = 0; i < 4; i++)
        r.s[i] = splitmix64(&x);
    return r;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(Rng *r)                 /* xoshiro256** */
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static double rng_unit(Rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform integer in [0, n), n < 2^32 (multiply-shift, bias negligible). */
static uint32_t rng_below(Rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static double rng_exp(Rng *r, double mean) { return -mean * log(1.0 - rng_unit(r)); }

static double rng_normal(Rng *r)                 /* Box-Muller, one value */
{
    double u = 1.0 - rng_unit(r), v = rng_unit(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Index drawn with probability proportional to w[i]; w must not be all 0. */
static int rng_weighted(Rng *r, const double *w, int n)
{
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += w[i];
    double x = rng_unit(r) * total;
    for (int i = 0; i < n - 1; i++) {
        if (x < w[i])
            return i;
        x -= w[i];
    }
    return n - 1;
}

/* ------------------------------------------------------------------ */
/* Static vocabulary                                                   */
/* ------------------------------------------------------------------ */

#define NCAT 12
#define MAX_BRANDS 6
#define MAX_ADJ 7
#define MAX_NOUNS 9
#define NLEVELS 3
#define GROUPS_PER_CAT (MAX_BRANDS * NLEVELS)   /* (brand, level) groups */

typedef struct {
    const char *name;
    double weight;          /* relative catalogue share and traffic */
    double median_price;    /* EUR, mid price level */
    const char *brands[MAX_BRANDS + 1];         /* NULL-terminated lists */
    const char *adjectives[MAX_ADJ + 1];
    const char *nouns[MAX_NOUNS + 1];
} Category;

static const Category CATEGORIES[NCAT] = {
    {"Coffee & Tea", 1.3, 16,
     {"Bergbohne", "Kaffeeklatsch", "Mokka Moon", "Teeris", "Roastwell", "Leafhouse", NULL},
     {"Organic", "Single-Origin", "Dark Roast", "Decaf", "Smooth", "Aromatic", "Classic", NULL},
     {"Espresso Beans", "Ground Coffee", "Green Tea", "Black Tea", "Herbal Tea",
      "Milk Frother", "French Press", "Pour-Over Kettle", "Coffee Grinder", NULL}},
    {"Running", 0.9, 55,
     {"Stridewell", "Asphaltix", "Nordpace", "Velocita", "Trailhund", NULL},
     {"Lightweight", "Cushioned", "Breathable", "Reflective", "Trail", "Racing", "Waterproof", NULL},
     {"Running Shoes", "Shorts", "Running Jacket", "Socks", "Hydration Vest",
      "Headlamp", "Compression Tights", "Cap", NULL}},
    {"Camping", 0.7, 65,
     {"Nordlicht", "Feuerstein", "Basecamp Co", "Wildmark", "Alpenzelt", "Ember & Pine", NULL},
     {"Ultralight", "Insulated", "Compact", "Waterproof", "Four-Season", "Foldable", "Rugged", NULL},
     {"Tent", "Sleeping Bag", "Sleeping Mat", "Camping Stove", "Lantern",
      "Backpack", "Camp Chair", "Cook Set", NULL}},
    {"Kitchen", 1.2, 38,
     {"Kochwerk", "Panhaus", "Silverspoon", "Cuisinova", "Messerschmied", NULL},
     {"Nonstick", "Stainless", "Cast-Iron", "Ceramic", "Professional", "Compact", "Classic", NULL},
     {"Frying Pan", "Chef's Knife", "Stock Pot", "Cutting Board", "Mixing Bowl Set",
      "Blender", "Toaster", "Knife Block", NULL}},
    {"Books", 1.4, 15,
     {"Quillhouse", "Paperlantern", "Inkwell Press", "Margin & Co", "Eselsohr Verlag",
      "Bluebinding", NULL},
     {"Illustrated", "Bestselling", "Annotated", "Pocket", "Hardcover", "Collected", NULL},
     {"Thriller", "Cookbook", "Fantasy Novel", "Biography", "Travel Guide",
      "Poetry Collection", "History of Europe", "Crime Novel", NULL}},
    {"Toys", 1.0, 24,
     {"Tinkertown", "Blinkbox", "Wobbleworks", "Happy Otter", "Bausteinwelt", NULL},
     {"Wooden", "Magnetic", "Glow-in-the-Dark", "Giant", "Educational", "Remote-Control",
      "Plush", NULL},
     {"Building Blocks", "Puzzle", "Train Set", "Dinosaur", "Robot", "Doll House",
      "Race Car", "Board Game", NULL}},
    {"Garden", 0.7, 32,
     {"Gruenfink", "Rootline", "Hedgehog Tools", "Terragarde", "Blumenfreund", NULL},
     {"Telescopic", "Ergonomic", "Cordless", "Heavy-Duty", "Weatherproof", "Self-Watering", NULL},
     {"Pruning Shears", "Garden Hose", "Lawn Mower", "Planter", "Watering Can", "Rake",
      "Raised Bed", "Seed Kit", NULL}},
    {"Audio", 1.1, 85,
     {"Klangwerk", "Sonority", "Bassline", "Echofield", "Tonhalle", NULL},
     {"Wireless", "Noise-Cancelling", "Portable", "Studio", "Bluetooth", "Compact", NULL},
     {"Headphones", "Earbuds", "Speaker", "Soundbar", "Turntable", "Microphone",
      "Amplifier", NULL}},
    {"Home Office", 0.8, 30,
     {"Deskwerk", "Papiertiger", "Inkline", "Officina", "Lumenbright", NULL},
     {"Ergonomic", "Adjustable", "Minimalist", "Recycled", "Dimmable", "Compact", NULL},
     {"Desk Lamp", "Office Chair", "Notebook", "Fountain Pen", "Monitor Stand",
      "Desk Organizer", "Keyboard", "Mouse", NULL}},
    {"Cycling", 0.6, 42,
     {"Kettenblatt", "Spokesmith", "Velorama", "Pedalwerk", "Hillclimb", NULL},
     {"Carbon", "Aero", "Reflective", "Padded", "Tubeless", "Rechargeable", NULL},
     {"Bike Helmet", "Bike Light", "Saddle", "Cycling Gloves", "Floor Pump", "Bike Lock",
      "Jersey", "Bottle Cage", NULL}},
    {"Beauty", 1.0, 12,
     {"Seifenkiste", "Dewdrop", "Lindenblatt", "Purely", "Velvetine", NULL},
     {"Organic", "Fragrance-Free", "Hydrating", "Vegan", "Soothing", "Refreshing", NULL},
     {"Face Cream", "Shampoo", "Soap Bar", "Body Lotion", "Lip Balm", "Shower Gel",
      "Hand Cream", "Beard Oil", NULL}},
    {"Pet Supplies", 0.9, 22,
     {"Pfotenglueck", "Waggle", "Catnap Co", "Fellfreund", "Barkley & Sons", NULL},
     {"Chewproof", "Orthopedic", "Washable", "Grain-Free", "Interactive", "Reflective", NULL},
     {"Dog Bed", "Cat Tree", "Leash", "Dog Food", "Cat Toy", "Feeding Bowl",
      "Scratching Post", "Collar", NULL}},
};

static const double LEVEL_PRICE_FACTOR[NLEVELS] = {0.55, 1.0, 2.0};
static const double LEVEL_SHARE[NLEVELS] = {0.35, 0.45, 0.20};

static const char *const FIRST_NAMES[] = {
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hugo", "Ida", "Jonas",
    "Karla", "Luca", "Mia", "Noah", "Olga", "Paul", "Quinn", "Rosa", "Sven", "Tara",
    "Umut", "Vera", "Wim", "Yara", "Zoe", "Emil", "Lea", "Milan", "Nora", "Oskar",
    "Pia", "Rafael", "Sofia", "Theo", "Lina", "Jakob", "Maja", "Leon", "Hanna", "Nils"};
static const char *const LAST_NAMES[] = {
    "Berg", "Novak", "Schmidt", "Dubois", "Rossi", "Jansen", "Kowalski", "Svensson",
    "Garcia", "Mueller", "Weber", "Fischer", "Meyer", "Bauer", "Horvat", "Larsen",
    "Moreau", "Bianchi", "De Vries", "Nowak", "Lindqvist", "Santos", "Keller", "Wolf",
    "Peeters", "Hoffmann", "Richter", "Nielsen", "Costa", "Lehmann", "Brandt", "Vogel",
    "Ivanova", "Kaya", "Martin", "Lambert", "Ferrari", "Visser", "Kraus", "Holm"};
#define NFIRST ((int)(sizeof FIRST_NAMES / sizeof FIRST_NAMES[0]))
#define NLAST ((int)(sizeof LAST_NAMES / sizeof LAST_NAMES[0]))

static const char *const COUNTRIES[] = {
    "Germany", "France", "Netherlands", "Austria", "Switzerland", "Poland", "Italy",
    "Spain", "Sweden", "Denmark", "Belgium", "Czechia", "Portugal", "Ireland"};
static const double COUNTRY_SHARE[] = {
    28, 14, 9, 7, 6, 7, 8, 7, 4, 3, 3, 2, 1.5, 1.5};
#define NCOUNTRIES ((int)(sizeof COUNTRIES / sizeof COUNTRIES[0]))

/* Relative share of session starts per UTC hour (evening peak). */
static const double HOUR_SHARE[24] = {
    1.0, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0,
    3.2, 3.0, 2.8, 2.8, 3.0, 3.4, 4.0, 4.6, 5.0, 4.6, 3.4, 2.0};

static int count_list(const char *const *list)
{
    int n = 0;
    while (list[n] != NULL)
        n++;
    return n;
}

static double category_weights[NCAT];   /* CATEGORIES[].weight as an array */

/* ------------------------------------------------------------------ */
/* Time                                                                */
/* ------------------------------------------------------------------ */

#define WINDOW_DAYS 180
#define WINDOW_SECONDS ((uint32_t)WINDOW_DAYS * 86400u)
#define SIGNUP_SPAN_DAYS (3 * 365)

/* Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* Writes "YYYY-MM-DD" (10 chars, no terminator). */
static void format_date(int64_t z, char *out)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    int y = (int)((int64_t)yoe + era * 400 + (m <= 2));
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%04d-%02u-%02u", y, m, d);
    memcpy(out, tmp, 10);
}

static int64_t window_end_day;     /* 2026-11-01 */
static int64_t window_start_day;   /* window_end_day - WINDOW_DAYS */
static char window_dates[WINDOW_DAYS][10];

static void init_time(void)
{
    window_end_day = days_from_civil(2026, 11, 1);
    window_start_day = window_end_day - WINDOW_DAYS;
    for (int d = 0; d < WINDOW_DAYS; d++)
        format_date(window_start_day + d, window_dates[d]);
}

/* ------------------------------------------------------------------ */
/* Output: buffered COPY text writer                                   */
/* ------------------------------------------------------------------ */

static char out_buf[1 << 20];
static size_t out_len;

static void out_flush(void)
{
    if (out_len > 0 && fwrite(out_buf, 1, out_len, stdout) != out_len) {
        perror("shopgen: write");
        exit(1);
    }
    out_len = 0;
}

/* Every row is far shorter than this, so one check per row suffices. */
static void out_reserve_row(void)
{
    if (out_len > sizeof out_buf - 1024)
        out_flush();
}

static void out_char(char c) { out_buf[out_len++] = c; }

static void out_mem(const char *s, size_t n)
{
    memcpy(out_buf + out_len, s, n);
    out_len += n;
}

/* A text field, escaped for COPY text format (the vocabulary never needs
 * it, but escaping keeps the format correct if it ever changes). */
static void out_text(const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\': out_mem("\\\\", 2); break;
        case '\t': out_mem("\\t", 2); break;
        case '\n': out_mem("\\n", 2); break;
        case '\r': out_mem("\\r", 2); break;
        default: out_char(*s);
        }
    }
}

static void out_u64(uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        out_char(tmp[--n]);
}

static void out_2digits(unsigned v)
{
    out_char((char)('0' + v / 10));
    out_char((char)('0' + v % 10));
}

static void out_price(uint32_t cents)
{
    out_u64(cents / 100);
    out_char('.');
    out_2digits(cents % 100);
}

/* timestamptz for a second offset inside the window, "YYYY-MM-DD hh:mm:ss+00". */
static void out_timestamp(uint32_t t)
{
    uint32_t sec = t % 86400;
    out_mem(window_dates[t / 86400], 10);
    out_char(' ');
    out_2digits(sec / 3600);
    out_char(':');
    out_2digits(sec / 60 % 60);
    out_char(':');
    out_2digits(sec % 60);
    out_mem("+00", 3);
}

/* ------------------------------------------------------------------ */
/* Catalogue                                                           */
/* ------------------------------------------------------------------ */

#define TITLE_MAX 80

typedef struct {
    uint64_t id;
    uint32_t price_cents;
    uint8_t cat, brand, level;
} Product;                   /* small: it is read for every event */

typedef struct {
    uint64_t seed;
    uint64_t n_events;
    uint32_t n_products, n_users;
    Product *prod;
    char (*title)[TITLE_MAX];  /* title[i] belongs to prod[i] */
    /* Products sorted by (category, brand, level); group g of category c
     * is order[grp_start[c*GROUPS_PER_CAT+g] .. grp_start[...+1]). */
    uint32_t *order;
    double *cum_pop;        /* cum_pop[k] = sum of popularity of order[0..k) */
    uint32_t grp_start[NCAT * GROUPS_PER_CAT + 1];
    int n_brands[NCAT];
} Shop;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "shopgen: out of memory\n");
        exit(1);
    }
    return p;
}

static uint32_t round_price(double p)
{
    if (p >= 10.0)
        return (uint32_t)floor(p) * 100 + 99;              /* 17.99 */
    uint32_t dimes = (uint32_t)lround(p * 10.0);          /* 4.49 */
    return dimes < 2 ? 99 : dimes * 10 - 1;
}

/* Category of each product: 4 per category guaranteed, the rest by
 * category weight, then shuffled so ids do not reveal the category. */
static void assign_categories(Shop *shop, Rng *rng)
{
    uint32_t n = shop->n_products;
    for (uint32_t i = 0; i < n; i++)
        shop->prod[i].cat = (uint8_t)(i < 4 * NCAT ? i % NCAT
                                      : (uint32_t)rng_weighted(rng, category_weights, NCAT));
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = rng_below(rng, i + 1);
        uint8_t t = shop->prod[i].cat;
        shop->prod[i].cat = shop->prod[j].cat;
        shop->prod[j].cat = t;
    }
}

static void make_product(Shop *shop, Rng *rng, uint32_t i, int brand_level[NCAT][MAX_BRANDS],
                         uint32_t *title_uses)
{
    Product *p = &shop->prod[i];
    const Category *c = &CATEGORIES[p->cat];
    int n_adj = count_list(c->adjectives), n_noun = count_list(c->nouns);
    int brand = (int)rng_below(rng, (uint32_t)shop->n_brands[p->cat]);
    int adj = (int)rng_below(rng, (uint32_t)n_adj);
    int noun = (int)rng_below(rng, (uint32_t)n_noun);

    p->id = 10000 + 7 * (uint64_t)i + rng_below(rng, 5);
    p->brand = (uint8_t)brand;
    p->level = (uint8_t)(rng_unit(rng) < 0.65 ? brand_level[p->cat][brand]
                                               : rng_weighted(rng, LEVEL_SHARE, NLEVELS));
    double price = c->median_price * LEVEL_PRICE_FACTOR[p->level] * exp(0.25 * rng_normal(rng));
    p->price_cents = round_price(price);

    uint32_t *uses = &title_uses[((p->cat * MAX_BRANDS + brand) * MAX_ADJ + adj) * MAX_NOUNS + noun];
    char *title = shop->title[i];
    int len = snprintf(title, TITLE_MAX, "%s %s %s", c->brands[brand], c->adjectives[adj],
                       c->nouns[noun]);
    if (++*uses > 1 && len > 0 && len < TITLE_MAX)
        snprintf(title + len, (size_t)(TITLE_MAX - len), " %u", (unsigned)*uses);
}

/* Zipf popularity by a random rank within each category, then the
 * (category, brand, level) ordering and popularity prefix sums. */
static void build_popularity_index(Shop *shop, Rng *rng)
{
    uint32_t n = shop->n_products;
    uint32_t *cat_count = xmalloc(NCAT * sizeof *cat_count);
    double *pop = xmalloc(n * sizeof *pop);

    memset(shop->grp_start, 0, sizeof shop->grp_start);
    for (uint32_t i = 0; i < n; i++) {
        const Product *p = &shop->prod[i];
        shop->grp_start[(p->cat * GROUPS_PER_CAT + p->brand * NLEVELS + p->level) + 1]++;
    }
    for (int g = 0; g < NCAT * GROUPS_PER_CAT; g++)
        shop->grp_start[g + 1] += shop->grp_start[g];

    /* Random rank inside the category: shuffle a per-category list. */
    memset(cat_count, 0, NCAT * sizeof *cat_count);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = shop->prod[i].cat;
        uint32_t base = shop->grp_start[c * GROUPS_PER_CAT];
        shop->order[base + cat_count[c]++] = i;        /* temporary use */
    }
    for (int c = 0; c < NCAT; c++) {
        uint32_t *list = shop->order + shop->grp_start[c * GROUPS_PER_CAT];
        for (uint32_t k = cat_count[c]; k > 1; k--) {
            uint32_t j = rng_below(rng, k);
            uint32_t t = list[k - 1]; list[k - 1] = list[j]; list[j] = t;
        }
        for (uint32_t k = 0; k < cat_count[c]; k++)
            pop[list[k]] = 1.0 / (double)(k + 1);
    }

    /* Final (category, brand, level) order; within a group, by index. */
    uint32_t fill[NCAT * GROUPS_PER_CAT];
    memcpy(fill, shop->grp_start, sizeof fill);
    for (uint32_t i = 0; i < n; i++) {
        const Product *p = &shop->prod[i];
        shop->order[fill[p->cat * GROUPS_PER_CAT + p->brand * NLEVELS + p->level]++] = i;
    }
    shop->cum_pop[0] = 0.0;
    for (uint32_t k = 0; k < n; k++)
        shop->cum_pop[k + 1] = shop->cum_pop[k] + pop[shop->order[k]];

    free(pop);
    free(cat_count);
}

static void build_shop(Shop *shop, uint64_t n_events, uint64_t seed)
{
    uint64_t np = n_events / 50, nu = n_events / 25;
    if (np > 100000000 || nu > 400000000) {
        fprintf(stderr, "shopgen: --events too large\n");
        exit(2);
    }
    shop->seed = seed;
    shop->n_events = n_events;
    shop->n_products = np < 60 ? 60 : (uint32_t)np;
    shop->n_users = nu < 50 ? 50 : (uint32_t)nu;
    shop->prod = xmalloc(shop->n_products * sizeof *shop->prod);
    shop->title = xmalloc(shop->n_products * sizeof *shop->title);
    shop->order = xmalloc(shop->n_products * sizeof *shop->order);
    shop->cum_pop = xmalloc((shop->n_products + 1) * sizeof *shop->cum_pop);

    Rng rng = rng_stream(seed, STREAM_CATALOG, 0);
    int brand_level[NCAT][MAX_BRANDS];
    for (int c = 0; c < NCAT; c++) {
        category_weights[c] = CATEGORIES[c].weight;
        shop->n_brands[c] = count_list(CATEGORIES[c].brands);
        for (int b = 0; b < MAX_BRANDS; b++)
            brand_level[c][b] = rng_weighted(&rng, LEVEL_SHARE, NLEVELS);
    }
    assign_categories(shop, &rng);

    size_t n_titles = (size_t)NCAT * MAX_BRANDS * MAX_ADJ * MAX_NOUNS;
    uint32_t *title_uses = xmalloc(n_titles * sizeof *title_uses);
    memset(title_uses, 0, n_titles * sizeof *title_uses);
    for (uint32_t i = 0; i < shop->n_products; i++)
        make_product(shop, &rng, i, brand_level, title_uses);
    free(title_uses);

    build_popularity_index(shop, &rng);
}

/* ------------------------------------------------------------------ */
/* Users                                                               */
/* ------------------------------------------------------------------ */

typedef struct {
    uint64_t id;
    int first_name, last_name, country;
    int64_t signup_day;         /* days since 1970-01-01 */
    int n_cats;
    int cat[3];
    double cat_weight[3];
    int level;                  /* preferred price level */
    int n_fav;
    int fav_cat[2], fav_brand[2];
    double activity;            /* relative share of events */
} User;

static void make_user(const Shop *shop, uint32_t index, User *u)
{
    Rng rng = rng_stream(shop->seed, STREAM_USER, index);
    static const double n_cats_share[3] = {0.30, 0.45, 0.25};

    u->id = 1000000 + 3 * (uint64_t)index + rng_below(&rng, 3);
    u->first_name = (int)rng_below(&rng, NFIRST);
    u->last_name = (int)rng_below(&rng, NLAST);
    u->country = rng_weighted(&rng, COUNTRY_SHARE, NCOUNTRIES);
    u->signup_day = window_end_day - 2 - rng_below(&rng, SIGNUP_SPAN_DAYS);

    /* Preferred categories: distinct, biased to popular categories. */
    double w[NCAT];
    memcpy(w, category_weights, sizeof w);
    u->n_cats = 1 + rng_weighted(&rng, n_cats_share, 3);
    for (int k = 0; k < u->n_cats; k++) {
        u->cat[k] = rng_weighted(&rng, w, NCAT);
        w[u->cat[k]] = 0.0;
        u->cat_weight[k] = 0.2 + rng_exp(&rng, 1.0);
    }
    u->level = rng_weighted(&rng, LEVEL_SHARE, NLEVELS);
    u->n_fav = rng_unit(&rng) < 0.6 ? 1 : 2;
    for (int k = 0; k < u->n_fav; k++) {
        u->fav_cat[k] = u->cat[k == 0 ? 0 : rng_below(&rng, (uint32_t)u->n_cats)];
        u->fav_brand[k] = (int)rng_below(&rng, (uint32_t)shop->n_brands[u->fav_cat[k]]);
    }
    u->activity = exp(1.0 * rng_normal(&rng));
}

static void write_products(const Shop *shop)
{
    for (uint32_t i = 0; i < shop->n_products; i++) {
        const Product *p = &shop->prod[i];
        out_reserve_row();
        out_u64(p->id);
        out_char('\t');
        out_text(shop->title[i]);
        out_char('\t');
        out_text(CATEGORIES[p->cat].name);
        out_char('\t');
        out_text(CATEGORIES[p->cat].brands[p->brand]);
        out_char('\t');
        out_price(p->price_cents);
        out_char('\n');
    }
}

static void write_users(const Shop *shop)
{
    for (uint32_t i = 0; i < shop->n_users; i++) {
        User u;
        char date[10];
        make_user(shop, i, &u);
        format_date(u.signup_day, date);
        out_reserve_row();
        out_u64(u.id);
        out_char('\t');
        out_text(FIRST_NAMES[u.first_name]);
        out_char(' ');
        out_text(LAST_NAMES[u.last_name]);
        out_char('\t');
        out_text(COUNTRIES[u.country]);
        out_char('\t');
        out_mem(date, 10);
        out_char('\n');
    }
}

/* ------------------------------------------------------------------ */
/* Sessions and events                                                 */
/* ------------------------------------------------------------------ */

#define P_PREFERRED 0.85
#define P_REVISIT 0.20
#define P_PURCHASE 0.40
#define CART_BASE 0.140         /* tuned so that carts ~ 15% of views */
#define MEAN_EXTRA_VIEWS 3.5
#define MAX_VIEWS 40
#define MAX_SESSION_EVENTS (3 * MAX_VIEWS)
#define FIT_ATTEMPTS 8

enum { KIND_VIEW, KIND_CART, KIND_PURCHASE };
static const char *const KIND_NAME[] = {"view", "cart", "purchase"};
static const size_t KIND_LEN[] = {4, 4, 8};

typedef struct {
    uint32_t prod;      /* product index */
    uint32_t t;         /* seconds after session start, then within window */
    int kind;
} Event;

static double brand_affinity(const User *u, int cat, int brand)
{
    for (int k = 0; k < u->n_fav; k++)
        if (u->fav_cat[k] == cat && u->fav_brand[k] == brand)
            return 5.0;
    return 1.0;
}

/* How much a product's price level suits the user, for viewing and (a
 * milder effect) for carting. */
static double level_match(const User *u, int level)
{
    static const double by_distance[NLEVELS] = {3.0, 1.0, 0.25};
    return by_distance[abs(u->level - level)];
}

static double cart_probability(const User *u, const Product *p)
{
    static const double by_distance[NLEVELS] = {1.3, 0.8, 0.4};
    double fav = brand_affinity(u, p->cat, p->brand) > 1.0 ? 1.5 : 1.0;
    return CART_BASE * by_distance[abs(u->level - p->level)] * fav;
}

/* Position in order[lo..hi) drawn proportionally to popularity. */
static uint32_t sample_by_popularity(const Shop *shop, Rng *rng, uint32_t lo, uint32_t hi)
{
    const double *cum = shop->cum_pop;
    double x = cum[lo] + rng_unit(rng) * (cum[hi] - cum[lo]);
    while (hi - lo > 1) {               /* invariant: answer in [lo, hi) */
        uint32_t mid = lo + (hi - lo) / 2;
        if (cum[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static int pick_session_category(const User *u, Rng *rng, int *exploring)
{
    *exploring = rng_unit(rng) >= P_PREFERRED;
    if (*exploring)
        return rng_weighted(rng, category_weights, NCAT);
    return u->cat[rng_weighted(rng, u->cat_weight, u->n_cats)];
}

/* Builds one session with times relative to its start; returns #events. */
static int make_session(const Shop *shop, const User *u, Rng *rng, Event *ev)
{
    int exploring;
    int cat = pick_session_category(u, rng, &exploring);
    const uint32_t *gs = &shop->grp_start[cat * GROUPS_PER_CAT];

    /* Weight of each (brand, level) group for this user. */
    double gw[GROUPS_PER_CAT];
    for (int g = 0; g < GROUPS_PER_CAT; g++) {
        gw[g] = shop->cum_pop[gs[g + 1]] - shop->cum_pop[gs[g]];
        if (!exploring)
            gw[g] *= brand_affinity(u, cat, g / NLEVELS) * level_match(u, g % NLEVELS);
    }

    /* floor() of an exponential with mean m + 0.5 has mean ~m. */
    int n_views = 1 + (int)floor(rng_exp(rng, MEAN_EXTRA_VIEWS + 0.5));
    if (n_views > MAX_VIEWS)
        n_views = MAX_VIEWS;

    uint32_t viewed[MAX_VIEWS], carted[MAX_VIEWS];
    int n_ev = 0, n_carted = 0;
    uint32_t t = 0;
    for (int v = 0; v < n_views; v++) {
        uint32_t prod;
        if (v > 0 && rng_unit(rng) < P_REVISIT) {
            prod = viewed[rng_below(rng, (uint32_t)v)];
        } else {
            int g = rng_weighted(rng, gw, GROUPS_PER_CAT);
            prod = shop->order[sample_by_popularity(shop, rng, gs[g], gs[g + 1])];
        }
        viewed[v] = prod;
        ev[n_ev++] = (Event){prod, t, KIND_VIEW};

        int already = 0;
        for (int k = 0; k < n_carted; k++)
            already |= carted[k] == prod;
        if (!already && rng_unit(rng) < cart_probability(u, &shop->prod[prod])) {
            t += 5 + rng_below(rng, 55);
            carted[n_carted++] = prod;
            ev[n_ev++] = (Event){prod, t, KIND_CART};
        }
        double gap = rng_exp(rng, 45.0);
        t += 5 + (uint32_t)(gap < 900.0 ? gap : 900.0);
    }

    t += 30 + rng_below(rng, 90);                   /* checkout */
    for (int k = 0; k < n_carted; k++) {
        if (rng_unit(rng) < P_PURCHASE) {
            ev[n_ev++] = (Event){carted[k], t, KIND_PURCHASE};
            t += 1 + rng_below(rng, 3);
        }
    }
    return n_ev;
}

/* Session start (seconds in window): a day from sign-up on, diurnal hour.
 * Sessions last less than a day and sign-up is at least 2 days before the
 * window end, so moving an overflowing session one day back keeps it after
 * sign-up and inside the window. */
static uint32_t session_start(const User *u, Rng *rng, uint32_t duration)
{
    int64_t first_day = u->signup_day - window_start_day;
    if (first_day < 0)
        first_day = 0;
    uint32_t day = (uint32_t)first_day + rng_below(rng, (uint32_t)(WINDOW_DAYS - first_day));
    uint32_t start = day * 86400u + (uint32_t)rng_weighted(rng, HOUR_SHARE, 24) * 3600u +
                     rng_below(rng, 3600);
    return start + duration < WINDOW_SECONDS ? start : start - 86400u;
}

static void write_user_events(const Shop *shop, uint32_t index, const User *u, uint64_t quota)
{
    Rng rng = rng_stream(shop->seed, STREAM_EVENTS, index);
    Event ev[MAX_SESSION_EVENTS];

    while (quota > 0) {
        /* A session that overflows the quota is redrawn a few times, since
         * cutting it would mostly drop its checkout; the last resort is a
         * time prefix, which keeps every invariant. */
        int n = make_session(shop, u, &rng, ev);
        for (int attempt = 1; attempt < FIT_ATTEMPTS && (uint64_t)n > quota; attempt++)
            n = make_session(shop, u, &rng, ev);
        uint32_t start = session_start(u, &rng, ev[n - 1].t);
        if ((uint64_t)n > quota)
            n = (int)quota;
        quota -= (uint64_t)n;
        for (int k = 0; k < n; k++) {
            out_reserve_row();
            out_u64(u->id);
            out_char('\t');
            out_u64(shop->prod[ev[k].prod].id);
            out_char('\t');
            out_mem(KIND_NAME[ev[k].kind], KIND_LEN[ev[k].kind]);
            out_char('\t');
            out_timestamp(start + ev[k].t);
            out_char('\n');
        }
    }
}

/* ------------------------------------------------------------------ */
/* Tastes (for the experiments' simulator)                             */
/* ------------------------------------------------------------------ */

/* Each user's taste for each product, as the generator itself holds it:
 * appeal = the probability that the user's next first view in a session is
 * the product (preferred category with p=0.85 weighted by category weight,
 * brand affinity, price-level match and popularity; else exploration by
 * popularity), and buy = the probability that a view of it ends in a
 * purchase (cart, then checkout); activity is the user's activity level
 * (log-normal, mean exp(0.5): how much more than others the user browses,
 * the share of events it gets).  Pairs with appeal below 1e-5 are left
 * out (the simulator takes them as 0).  test/bench/experiments.sh has a
 * simulated user click on a shown item with a probability growing with
 * its appeal and buy it with probability buy. */
static void write_tastes(const Shop *shop)
{
    double total_cat = 0.0;
    for (int c = 0; c < NCAT; c++)
        total_cat += category_weights[c];
    for (uint32_t i = 0; i < shop->n_users; i++) {
        User u;
        double total_pref = 0.0;
        make_user(shop, i, &u);
        for (int k = 0; k < u.n_cats; k++)
            total_pref += u.cat_weight[k];
        for (int c = 0; c < NCAT; c++) {
            const uint32_t *gs = &shop->grp_start[c * GROUPS_PER_CAT];
            double pref = 0.0, cat_pop = 0.0, user_pop = 0.0;
            double gp[GROUPS_PER_CAT], gu[GROUPS_PER_CAT];
            for (int k = 0; k < u.n_cats; k++)
                if (u.cat[k] == c)
                    pref += P_PREFERRED * u.cat_weight[k] / total_pref;
            for (int g = 0; g < GROUPS_PER_CAT; g++) {
                gp[g] = shop->cum_pop[gs[g + 1]] - shop->cum_pop[gs[g]];
                gu[g] = gp[g] * brand_affinity(&u, c, g / NLEVELS) * level_match(&u, g % NLEVELS);
                cat_pop += gp[g];
                user_pop += gu[g];
            }
            if (cat_pop <= 0.0)
                continue;
            double explore = (1.0 - P_PREFERRED) * category_weights[c] / total_cat;
            for (int g = 0; g < GROUPS_PER_CAT; g++)
                for (uint32_t k = gs[g]; k < gs[g + 1]; k++) {
                    const Product *p = &shop->prod[shop->order[k]];
                    double pop = shop->cum_pop[k + 1] - shop->cum_pop[k];
                    double appeal = explore * pop / cat_pop;
                    char num[64];
                    int len;
                    if (pref > 0.0 && user_pop > 0.0)
                        appeal += pref * (gu[g] / user_pop) * (pop / gp[g]);
                    if (appeal < 1e-5)
                        continue;
                    out_reserve_row();
                    out_u64(u.id);
                    out_char('\t');
                    out_u64(p->id);
                    len = snprintf(num, sizeof num, "\t%.6g\t%.4f\t%.4f\n", appeal,
                                   cart_probability(&u, p) * P_PURCHASE, u.activity);
                    out_mem(num, (size_t)len);
                }
        }
    }
}

/* Splits n_events over users: 2 each (if possible), the rest in proportion
 * to activity, with cumulative rounding so the total is exact. */
static void write_events(const Shop *shop)
{
    double total_activity = 0.0;
    User u;
    for (uint32_t i = 0; i < shop->n_users; i++) {
        make_user(shop, i, &u);
        total_activity += u.activity;
    }
    uint64_t base = shop->n_events >= 4 * (uint64_t)shop->n_users ? 2 : 0;
    double rest = (double)(shop->n_events - base * shop->n_users);
    double cum = 0.0;
    uint64_t assigned = 0;
    for (uint32_t i = 0; i < shop->n_users; i++) {
        make_user(shop, i, &u);
        cum += u.activity;
        uint64_t upto = i + 1 == shop->n_users ? shop->n_events - base * shop->n_users
                                               : (uint64_t)llround(rest * (cum / total_activity));
        write_user_events(shop, i, &u, base + (upto - assigned));
        assigned = upto;
    }
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f, "usage: shopgen --table products|users|events|tastes [--events N] [--seed S]\n"
               "Writes one table of the demo shop to stdout in COPY text format.\n"
               "Defaults: --events 5000 --seed 42.\n");
}

static uint64_t parse_u64(const char *opt, const char *s)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9') {
        fprintf(stderr, "shopgen: %s needs a non-negative integer\n", opt);
        exit(2);
    }
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0') {
        fprintf(stderr, "shopgen: bad value for %s: %s\n", opt, s);
        exit(2);
    }
    return (uint64_t)v;
}

int main(int argc, char **argv)
{
    const char *table = NULL;
    uint64_t n_events = 5000, seed = 42;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(arg, "--table") == 0 && val != NULL) {
            table = val;
            i++;
        } else if (strcmp(arg, "--events") == 0) {
            n_events = parse_u64(arg, val);
            i++;
        } else if (strcmp(arg, "--seed") == 0) {
            seed = parse_u64(arg, val);
            i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (table == NULL) {
        usage(stderr);
        return 2;
    }

    Shop shop;
    init_time();
    build_shop(&shop, n_events, seed);

    if (strcmp(table, "products") == 0)
        write_products(&shop);
    else if (strcmp(table, "users") == 0)
        write_users(&shop);
    else if (strcmp(table, "events") == 0)
        write_events(&shop);
    else if (strcmp(table, "tastes") == 0)
        write_tastes(&shop);
    else {
        fprintf(stderr, "shopgen: unknown table '%s'\n", table);
        return 2;
    }
    out_flush();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("shopgen: write");
        return 1;
    }
    free(shop.prod);
    free(shop.title);
    free(shop.order);
    free(shop.cum_pop);
    return 0;
}
