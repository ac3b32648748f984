/*  kontor_seed - `kontor seed`: a realistic data set of a given size, loaded
 *  through the services' own methods, from several connections at once.
 *
 *      kontor seed [--clients N] [--skus N] [--branches N] [--seed S] [--threads T]
 *
 *  What it makes, all of it derived from S alone (a splitmix64 stream per
 *  entity, so the result does not depend on which thread did what):
 *
 *    clients    branches (Москва, Санкт-Петербург, Hamburg, ...), for each 3
 *               territories and 4 managers (a lead and 3 account managers);
 *               manager 1 is the head of the wholesale department. The ids
 *               match the local set's principals: head-1 is manager 1,
 *               manager-1 is 2, manager-2 is 3 (branch 1). Clients, Cyrillic
 *               ("ООО «Волга-Трейд»", "ИП Кузнецов А. В.") and Latin ("Nordwind
 *               GmbH", "Baltic Steel SIA") with valid tax ids (INN with its
 *               check digits, VAT numbers), addresses, segment, some key
 *               accounts, some blocked, prospects and archived; a credit check
 *               each, terms (price column A..E, discount 0-5 %, payment and
 *               grace days, a credit limit, tight for some, contract) and one
 *               to three contacts; each manager's plan for the month.
 *    logistics  a central warehouse (CENTRAL) and one per branch (WH-<code>);
 *               products (SKUs from 100001) in analog groups of one to four
 *               brands, with unit, weight, storage and transport; stock at
 *               the central warehouse for almost every SKU and at branches
 *               for most; expected arrivals for what is short.
 *    orders     one price list (EUR) with columns A..E for every SKU and the
 *               SKUs' analog groups.
 *
 *  The first nine SKUs are always three analog groups of three brands
 *  (100001-100003, 100004-100006, 100007-100009), stocked at every
 *  warehouse, except that 100001 has only 6 units everywhere and an arrival
 *  of 40 expected in 12 days: `make demo` tells its story with them.
 *
 *  Bulk methods carry everything: the catalogue (UpsertProduct 1,000 SKUs a
 *  call, SetPrices 5,000 prices, Receive 1,000 lines) and the clients
 *  (ImportClients, 1,000 a call with their credit checks, terms and
 *  contacts, in one transaction each; fewer when 1,000 would not fit in a
 *  message). T threads (default 8) each hold a connection and take the next
 *  piece of work: catalogue pieces interleaved with batches of clients, so
 *  every service is busy at once.
 *
 *  Running it again with the same options adds nothing: branches,
 *  territories and the price list are created or found by their unique code
 *  or name (s_upsert_unique), managers (by id), warehouses (by code),
 *  products and prices are upserts, receipts and arrivals carry idempotency
 *  keys made of the seed, the warehouse and the SKUs, a batch of clients
 *  carries a key made of the seed, the branches and its first and last
 *  client (a batch already imported answers with its first reply), and a
 *  batch some of whose clients exist already (made by an earlier run whose
 *  keys expired, or one by one) is loaded one client at a time: a client
 *  whose tax id exists is looked up and given only what it lacks (credit
 *  check, terms, contacts). An interrupted run is completed by the next one. A client is
 *  the same whatever --clients and --branches say (its territory aside), so
 *  a larger --clients adds clients; a larger --skus adds products, but
 *  receives the last partial window of 1,000 SKUs a second time (its key
 *  names its new last SKU). Another --seed is another data set: new
 *  clients, new prices.
 *
 *  Progress goes to standard error: a bar redrawn in place when it is a
 *  terminal, a plain line every few seconds otherwise. The summary, with the
 *  rates, goes to standard output. Exit status: 0 done, 1 some calls were
 *  refused (the first refusals are printed), 2 a usage error, 3 the bus
 *  could not be reached.
 */
#include "kontor_seed.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clients.pb-c.h"
#include "kontor.h"
#include "kt_status.h"
#include "kt_validate.h"
#include "logistics.pb-c.h"
#include "orders.pb-c.h"

#define S_CLIENTS_MAX   10000000 //  tax id bodies are bijections of the index below 10^7
#define S_SKUS_MAX      1000000
#define S_BRANCHES_MAX  99
#define S_THREADS_MAX   64
#define S_FIRST_SKU     100001
#define S_WINDOW        1000 //  SKUs per UpsertProduct, SetPrices (x5 columns), Receive
#define S_CHUNK         1000 //  clients per piece of work: one ImportClients at most
#define S_MSG_MARGIN    (64 * 1024) //  of KONTOR_MAX_MSG, for the envelope
#define S_IMPORT_ATTEMPTS 3         //  an ImportClients that got no answer is sent again
#define S_TERRITORIES   3    //  per branch
#define S_MGRS          4    //  per branch: manager, manager, lead, manager
#define S_CALL_MS       30000
#define S_ERRORS_SHOWN  5
#define S_PROBE_MAX     5000 //  ids tried to find a branch, territory or price list
#define S_ERRORS_ABORT  200  //  stop after this many refusals
#define S_SILENT_ABORT  10   //  ... or this many calls with no answer
#define S_CURRENCY      "EUR"
#define S_SCARCE_SKU    S_FIRST_SKU //  the demo's short SKU
#define S_SCARCE_QTY    6
#define S_SCARCE_ARRIVE 40
#define S_SCARCE_DAYS   12
#define S_SHOWCASE      9 //  SKUs in the three fixed groups of three

//  ---------------------------------------------------------------- randomness

//  splitmix64: one independent stream per (seed, kind, index).
typedef struct {
    uint64_t s;
} s_rng_t;

static uint64_t s_next(s_rng_t *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

enum { R_CLIENT = 1, R_GROUP, R_SKU, R_STOCK, R_MANAGER, R_PLAN, R_CONTACT, R_PLACE };

static s_rng_t s_rng(uint64_t seed, int kind, uint64_t index)
{
    s_rng_t r = {seed * 0x2545F4914F6CDD1Dull ^ ((uint64_t)kind << 56) ^ index};
    s_next(&r);
    return r;
}

//  Uniform in [lo, hi].
static int64_t s_range(s_rng_t *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(s_next(r) % (uint64_t)(hi - lo + 1));
}

//  True with probability pct / 100.
static bool s_chance(s_rng_t *r, int pct)
{
    return (int)(s_next(r) % 100) < pct;
}

#define S_PICK(r, arr) ((arr)[s_next(r) % (sizeof(arr) / sizeof((arr)[0]))])

//  ---------------------------------------------------------------- dates

//  Days since 1970-01-01 as "YYYY-MM-DD" (proleptic Gregorian).
static void s_date(char out[11], int64_t days)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    snprintf(out, 11, "%04d-%02d-%02d", (int)(y + (m <= 2)), (int)m, (int)d);
}

//  ---------------------------------------------------------------- the world's words

typedef struct {
    const char *code;
    const char *name;
    const char *city; //  as written in addresses
    bool latin;       //  German-speaking or Baltic: Latin names, VAT ids
} s_branch_def_t;

static const s_branch_def_t s_branch_defs[] = {
    {"MSK", "Москва", "г. Москва", false}, {"SPB", "Санкт-Петербург", "г. Санкт-Петербург", false},
    {"HAM", "Hamburg", "Hamburg", true},   {"EKB", "Екатеринбург", "г. Екатеринбург", false},
    {"BER", "Berlin", "Berlin", true},     {"NSK", "Новосибирск", "г. Новосибирск", false},
    {"RIX", "Riga", "Rīga", true},         {"KZN", "Казань", "г. Казань", false},
    {"VIE", "Wien", "Wien", true},         {"NNV", "Нижний Новгород", "г. Нижний Новгород", false},
    {"WAW", "Warszawa", "Warszawa", true}, {"SAM", "Самара", "г. Самара", false},
};
#define S_NBRANCH_DEFS (sizeof s_branch_defs / sizeof s_branch_defs[0])

static const char *const s_terr_ru[S_TERRITORIES] = {"центр", "север", "область"};
static const char *const s_terr_lat[S_TERRITORIES] = {"Mitte", "Nord", "Umland"};

typedef struct {
    const char *word;
    const char *latin; //  for e-mail domains
} s_word_t;

static const s_word_t s_ru_words[] = {
    {"Ромашка", "romashka"},  {"Северный Ветер", "sever"},
    {"Волга", "volga"},       {"Урал", "ural"},
    {"Сибирь", "sibir"},      {"Вектор", "vektor"},
    {"Гранит", "granit"},     {"Альфа", "alfa"},
    {"Заря", "zarya"},        {"Исток", "istok"},
    {"Кедр", "kedr"},         {"Маяк", "mayak"},
    {"Прогресс", "progress"}, {"Радуга", "raduga"},
    {"Сокол", "sokol"},       {"Титан", "titan"},
    {"Факел", "fakel"},       {"Эталон", "etalon"},
    {"Восток", "vostok"},     {"Горизонт", "gorizont"},
    {"Енисей", "enisei"},     {"Звезда", "zvezda"},
    {"Кристалл", "kristall"}, {"Лотос", "lotos"},
    {"Монолит", "monolit"},   {"Нева", "neva"},
    {"Берёза", "bereza"},     {"Дельта", "delta"},
    {"Ясень", "yasen"},       {"Бриз", "briz"},
    {"Техно", "tekhno"},      {"Спектр", "spektr"},
    {"Меридиан", "meridian"}, {"Альянс", "alyans"},
    {"Орион", "orion"},       {"Светлана", "svetlana"},
};
static const s_word_t s_ru_suffixes[] = {
    {"", ""},
    {"-Опт", "-opt"},
    {"-Трейд", "-trade"},
    {"Снаб", "snab"},
    {"Строй", "stroy"},
    {"Торг", "torg"},
    {"Пром", "prom"},
    {"-М", "-m"},
    {"Логистик", "logistic"},
    {"Сервис", "service"},
    {"Агро", "agro"},
    {"-Юг", "-yug"},
};
static const char *const s_lat_words[] = {
    "Nordwind", "Baltic",    "Alpen",      "Rhein",  "Hanse",   "Elbe",   "Donau",   "Adler",
    "Falken",   "Kristall",  "Sonnen",     "Weser",  "Atlas",   "Vektor", "Polar",   "Bergmann",
    "Meridian", "Nordstern", "Leuchtturm", "Eichen", "Kompass", "Anker",  "Lindner", "Brandt",
};
static const char *const s_lat_seconds[] = {
    "",      "",     "Handel", "Bau",        "Technik", "Logistik", "Trading",
    "Steel", "Food", "Supply", "Industries", "Service", "Systems",  "Werkzeug",
};

typedef struct {
    const char *form;
    const char *country; //  VAT prefix
    int digits;          //  digits of the body
    const char *tail;    //  after the body
} s_lat_form_t;

static const s_lat_form_t s_lat_forms[] = {
    {"GmbH", "DE", 9, ""},   {"GmbH & Co. KG", "DE", 9, ""}, {"AG", "DE", 9, ""},
    {"KG", "DE", 9, ""},     {"SIA", "LV", 11, ""},          {"Sp. z o.o.", "PL", 10, ""},
    {"s.r.o.", "CZ", 8, ""}, {"B.V.", "NL", 9, "B01"},       {"Oy", "FI", 8, ""},
    {"Ltd", "GB", 9, ""},
};

static const char *const s_ru_streets[] = {
    "ул. Ленина",     "ул. Промышленная", "пр-т Мира",           "ул. Садовая",  "ул. Складская",
    "ш. Энтузиастов", "ул. Заводская",    "Индустриальный пр-д", "ул. Гагарина", "ул. Новая",
};
static const char *const s_lat_streets[] = {
    "Hafenstraße", "Industriestraße", "Bahnhofstraße", "Lagerweg",  "Gewerbering",
    "Hauptstraße", "Am Speicher",     "Brīvības iela", "Mühlenweg", "Kanalstraße",
};
static const char *const s_ru_segments[] = {"стройка", "розница", "промышленность",
                                            "HoReCa",  "монтаж",  "дилер"};
static const char *const s_lat_segments[] = {"Bau",    "Handel",   "Industrie",
                                             "HoReCa", "Handwerk", "Händler"};
static const char *const s_ru_first[] = {"Сергей", "Анна",  "Дмитрий", "Елена", "Алексей",
                                         "Ольга",  "Игорь", "Мария",   "Павел", "Наталья"};
static const char *const s_ru_last_m[] = {"Иванов",  "Кузнецов", "Смирнов", "Попов",
                                          "Соколов", "Лебедев",  "Козлов",  "Новиков"};
static const char *const s_ru_positions[] = {"директор", "главный бухгалтер", "закупщик",
                                             "начальник снабжения", "менеджер по закупкам"};
static const char *const s_lat_first[] = {"Anna",  "Jonas", "Lena",   "Markus", "Julia",
                                          "Felix", "Laura", "Tobias", "Marta",  "Jānis"};
static const char *const s_lat_last[] = {"Schmidt", "Müller", "Weber",    "Fischer",
                                         "Becker",  "Wagner", "Hoffmann", "Bērziņš"};
static const char *const s_lat_positions[] = {"Geschäftsführer", "Einkauf", "Buchhaltung",
                                              "Lagerleiter", "Projektleiter"};

//  Product families: the first three are the demo's showcase.
typedef struct {
    const char *name;
    const char *const *specs; //  NULL-terminated
    const char *unit;
    int64_t weight_lo, weight_hi; //  grams
    int64_t price_lo, price_hi;   //  cents, column A
    const char *storage;
    const char *transport;
    int big;                   //  1: few units in stock
    const char *const *brands; //  NULL-terminated, at least 4
} s_family_t;

static const char *const s_sp_perf[] = {"SDS-plus 800 Вт", "SDS-plus 1000 Вт", "SDS-max 1500 Вт",
                                        NULL};
static const char *const s_sp_cable[] = {"3×1,5 мм², 100 м", "3×2,5 мм², 100 м", "5×2,5 мм², 50 м",
                                         NULL};
static const char *const s_sp_mix[] = {"гипсовая, 30 кг", "цементная, 25 кг", NULL};
static const char *const s_sp_bolt[] = {"M6×20, 100 шт", "M8×40, 100 шт", "M10×50, 50 шт",
                                        "M12×60, 50 шт", "M16×80, 25 шт", NULL};
static const char *const s_sp_glove[] = {"S, 100 шт", "M, 100 шт", "L, 100 шт", "XL, 100 шт", NULL};
static const char *const s_sp_pipe[] = {"PN20 20 мм, 4 м", "PN20 25 мм, 4 м", "PN20 32 мм, 4 м",
                                        "PN25 40 мм, 4 м", NULL};
static const char *const s_sp_screw[] = {"3,5×35, 1000 Stk", "3,5×55, 1000 Stk", "4,2×75, 500 Stk",
                                         NULL};
static const char *const s_sp_drill[] = {"HSS 1-10 mm, 19-tlg.", "SDS-plus 5-12 mm, 7-tlg.", NULL};
static const char *const s_sp_tape[] = {"48 mm × 66 m, 36 Rollen", "50 mm × 66 m, 36 Rollen", NULL};
static const char *const s_sp_lamp[] = {"E27 9 W 2700 K, 10 Stk", "E27 12 W 4000 K, 10 Stk",
                                        "GU10 5 W, 10 Stk", NULL};
static const char *const s_sp_paint[] = {"белая матовая, 10 л", "белая матовая, 2,5 л",
                                         "фасадная, 9 л", NULL};
static const char *const s_sp_foam[] = {"монтажная 750 мл, 12 шт", "профессиональная 870 мл, 12 шт",
                                        NULL};
static const char *const s_sp_wire[] = {"NYM-J 3×1,5 mm², 100 m", "NYM-J 5×2,5 mm², 50 m", NULL};
static const char *const s_sp_pallet[] = {"Stretchfolie 500 mm, 23 µm, 6 Rollen",
                                          "Stretchfolie 500 mm, 17 µm, 6 Rollen", NULL};
static const char *const s_sp_valve[] = {"шаровой 1/2\", 10 шт", "шаровой 3/4\", 10 шт",
                                         "шаровой 1\", 5 шт", NULL};
static const char *const s_sp_grinder[] = {"125 мм 900 Вт", "230 мм 2200 Вт", NULL};

static const char *const s_b_tools[] = {"Bosch",     "Makita", "Metabo", "DeWalt",
                                        "Интерскол", "Зубр",   "Hilti",  NULL};
static const char *const s_b_cable[] = {"Севкабель", "Кольчугино", "Конкорд",
                                        "Rexant",    "Lapp",       NULL};
static const char *const s_b_mix[] = {"Knauf", "Ceresit", "Волма", "Основит", "Weber", NULL};
static const char *const s_b_fix[] = {"Bossard",     "Fischer", "Würth", "Koelner",
                                      "Стройкрепёж", "Spax",    NULL};
static const char *const s_b_safety[] = {"Ansell", "Manipula", "Jeta Safety", "Uvex", NULL};
static const char *const s_b_pipe[] = {"Rehau", "Valtec", "Pro Aqua", "Kalde", NULL};
static const char *const s_b_pack[] = {"Tesa", "Scotch", "Unibob", "Mondi", NULL};
static const char *const s_b_light[] = {"Philips", "Osram", "Gauss", "Ledvance", NULL};
static const char *const s_b_paint[] = {"Tikkurila", "Dulux", "Caparol", "Текс", NULL};
static const char *const s_b_foam[] = {"Tytan", "Makroflex", "Penosil", "Soudal", NULL};
static const char *const s_b_wire[] = {"Lapp", "Nexans", "Prysmian", "Faber Kabel", NULL};
static const char *const s_b_valve[] = {"Valtec", "Bugatti", "Far", "Itap", NULL};

static const s_family_t s_families[] = {
    {"Перфоратор", s_sp_perf, "pcs", 2600, 6200, 8900, 24900, "dry", "standard", 1, s_b_tools},
    {"Кабель ВВГнг-LS", s_sp_cable, "roll", 9000, 21000, 5400, 16800, "dry", "pallet", 1,
     s_b_cable},
    {"Смесь штукатурная", s_sp_mix, "bag", 25000, 30000, 590, 1190, "dry, above 0 C", "pallet", 0,
     s_b_mix},
    {"Болт DIN 933 оцинк.", s_sp_bolt, "pack", 500, 9000, 390, 4900, "dry", "standard", 0, s_b_fix},
    {"Перчатки нитриловые", s_sp_glove, "pack", 600, 900, 490, 1290, "dry", "standard", 0,
     s_b_safety},
    {"Труба PP-R", s_sp_pipe, "pcs", 600, 2400, 190, 1490, "dry", "long goods", 0, s_b_pipe},
    {"Spanplattenschraube", s_sp_screw, "pack", 1800, 6500, 690, 2990, "dry", "standard", 0,
     s_b_fix},
    {"Bohrer-Set", s_sp_drill, "pcs", 300, 900, 1290, 6900, "dry", "standard", 1, s_b_tools},
    {"Packband PP", s_sp_tape, "pack", 5000, 7000, 2190, 4490, "+5..+25 C", "standard", 0,
     s_b_pack},
    {"LED-Lampe", s_sp_lamp, "pack", 500, 900, 990, 3490, "dry", "fragile", 0, s_b_light},
    {"Краска водно-дисперсионная", s_sp_paint, "pcs", 3500, 15000, 990, 5990,
     "+5..+30 C, away from frost", "heated in winter", 0, s_b_paint},
    {"Пена", s_sp_foam, "pack", 9000, 11000, 3900, 8900, "+5..+25 C", "hazmat class 2", 0,
     s_b_foam},
    {"Mantelleitung", s_sp_wire, "roll", 8000, 19000, 4900, 15900, "dry", "pallet", 1, s_b_wire},
    {"Verpackung", s_sp_pallet, "pack", 12000, 16000, 3990, 7990, "dry", "pallet", 0, s_b_pack},
    {"Кран", s_sp_valve, "pack", 1500, 4000, 2900, 9900, "dry", "standard", 0, s_b_valve},
    {"УШМ", s_sp_grinder, "pcs", 1900, 5200, 4900, 18900, "dry", "standard", 1, s_b_tools},
};
#define S_NFAMILIES (sizeof s_families / sizeof s_families[0])

//  ---------------------------------------------------------------- plan of the data set

typedef struct {
    int64_t clients, skus, branches;
    uint64_t seed;
    int threads;
    int timeout_ms;
    const char *as;
    size_t max_request; //  bytes one request may pack to (KONTOR_MAX_MSG less a margin)

    int64_t today;     //  days since 1970, the database's
    char month[8];     //  "YYYY-MM"
    int64_t nmanagers; //  1 + S_MGRS * branches
    int64_t nterritories;
    int64_t branch_id[S_BRANCHES_MAX + 1]; //  index 1..branches
    int64_t territory_id[S_BRANCHES_MAX * S_TERRITORIES + 1];
    bool terr_latin[S_BRANCHES_MAX * S_TERRITORIES + 1]; //  its branch speaks a Latin language
    int64_t nterr_latin;
    int64_t nwarehouses; //  central first
    int64_t warehouse_id[S_BRANCHES_MAX + 1];
    char warehouse_code[S_BRANCHES_MAX + 1][16];
    int64_t price_list_id;

    //  catalogue: analog group of each SKU (index sku - S_FIRST_SKU), built up front
    int32_t *group; //  1-based group number
    int64_t ngroups;
    int64_t nwindows;
} s_plan_t;

//  ---------------------------------------------------------------- counters and errors

typedef struct {
    atomic_llong calls;
    atomic_llong clients_new, clients_existing, clients_done;
    atomic_llong checks, terms, contacts, imports;
    atomic_llong products_new, products_updated, prices, stock_lines, receipts, arrivals;
    atomic_llong tasks_done, weight_done;
    atomic_llong errors;
    atomic_int unreachable;
    atomic_bool stop;
    pthread_mutex_t lock;
    char first[S_ERRORS_SHOWN][400];
    int nfirst;
} s_stats_t;

static s_stats_t s_stats;

static void s_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void s_error(const char *fmt, ...)
{
    long long n = atomic_fetch_add(&s_stats.errors, 1) + 1;
    pthread_mutex_lock(&s_stats.lock);
    if (s_stats.nfirst < S_ERRORS_SHOWN) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s_stats.first[s_stats.nfirst++], sizeof s_stats.first[0], fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&s_stats.lock);
    if (n >= S_ERRORS_ABORT)
        atomic_store(&s_stats.stop, true);
}

//  ---------------------------------------------------------------- calling

typedef struct {
    kt_client_t *client;
    const s_plan_t *plan;
} s_conn_t;

//  Call and return the status; *out gets the reply (also a refusal's
//  figures). A refusal other than those the caller expects is the caller's
//  to report; silence (UNAVAILABLE, DEADLINE_EXCEEDED) is counted here.
static int s_call(s_conn_t *c, const char *service, const char *method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *rep, ProtobufCMessage **out, const char *key,
                  bool retry, kt_reply_t *reply)
{
    kt_call_opts_t opts = {.timeout_ms = c->plan->timeout_ms, .retry = retry, .idem_key = key};
    *out = NULL;
    int status = kt_client_call(c->client, service, method, req, rep, out, &opts, reply);
    atomic_fetch_add(&s_stats.calls, 1);
    if (status == KT_UNAVAILABLE || status == KT_DEADLINE_EXCEEDED) {
        if (atomic_fetch_add(&s_stats.unreachable, 1) >= S_SILENT_ABORT)
            atomic_store(&s_stats.stop, true);
    }
    return status;
}

//  A call whose only acceptable answer is OK: reports anything else.
//  Returns 0 or -1.
static int s_must(s_conn_t *c, const char *service, const char *method, const ProtobufCMessage *req,
                  const ProtobufCMessageDescriptor *rep, ProtobufCMessage **out, const char *key,
                  bool retry, const char *what)
{
    kt_reply_t reply;
    ProtobufCMessage *got = NULL;
    int status = s_call(c, service, method, req, rep, &got, key, retry, &reply);
    if (status != KT_OK) {
        s_error("%s.%s (%s): %s: %s%s%s%s", service, method, what, kt_status_name(status),
                reply.message, reply.field[0] ? " (" : "", reply.field, reply.field[0] ? ")" : "");
        kt_msg_free(got);
        got = NULL;
    }
    kt_reply_clear(&reply);
    if (out)
        *out = got;
    else
        kt_msg_free(got);
    return status == KT_OK ? 0 : -1;
}

//  ---------------------------------------------------------------- organisation

static int64_t s_manager_branch(int64_t id)
{
    return id == 1 ? 1 : (id - 2) / S_MGRS + 1;
}

static bool s_manager_is_lead(int64_t id)
{
    return id > 1 && (id - 2) % S_MGRS == 2;
}

static const s_branch_def_t *s_branch_def(int64_t b, char code[8], char name[64])
{
    if (b <= (int64_t)S_NBRANCH_DEFS) {
        const s_branch_def_t *d = &s_branch_defs[b - 1];
        snprintf(code, 8, "%s", d->code);
        snprintf(name, 64, "%s", d->name);
        return d;
    }
    snprintf(code, 8, "B%02d", (int)b);
    snprintf(name, 64, "Филиал %d", (int)b);
    return &s_branch_defs[(b - 1) % S_NBRANCH_DEFS];
}

//  A person's name for manager `id` (Cyrillic or Latin after the branch).
static void s_manager_name(const s_plan_t *p, int64_t id, char *out, size_t size)
{
    static const char *const head = "Ольга Смирнова";
    if (id == 1) {
        snprintf(out, size, "%s", head);
        return;
    }
    s_rng_t r = s_rng(p->seed, R_MANAGER, (uint64_t)id);
    char code[8], name[64];
    const s_branch_def_t *d = s_branch_def(s_manager_branch(id), code, name);
    if (d->latin)
        snprintf(out, size, "%s %s", S_PICK(&r, s_lat_first), S_PICK(&r, s_lat_last));
    else {
        //  Female first names take the surname's feminine form.
        size_t k = s_next(&r) % (sizeof s_ru_first / sizeof s_ru_first[0]);
        const char *first = s_ru_first[k];
        const char *last = S_PICK(&r, s_ru_last_m);
        bool female = k % 2 == 1;
        snprintf(out, size, "%s %s%s", first, last, female ? "а" : "");
    }
}

//  Create (id 0), or find the one a unique key (a code, a name) says is
//  there already. No method lists branches, territories or price lists, so
//  the finding is by updating ids 1, 2, ... with the same fields: the unique
//  key refuses every row but its own (ALREADY_EXISTS, nothing changed), ids
//  that do not exist answer NOT_FOUND, and the row that has the key takes
//  the update, which changes nothing. *req_id is the request's id field.
static int s_upsert_unique(s_conn_t *c, const char *service, const char *method,
                           ProtobufCMessage *req, int64_t *req_id,
                           const ProtobufCMessageDescriptor *rep, ProtobufCMessage **out,
                           const char *what)
{
    kt_reply_t reply;
    *req_id = 0;
    int status = s_call(c, service, method, req, rep, out, NULL, false, &reply);
    for (int64_t id = 1; status == KT_ALREADY_EXISTS || (status == KT_NOT_FOUND && id > 1); id++) {
        if (id > S_PROBE_MAX || (status == KT_NOT_FOUND && strcmp(reply.field, "id") != 0 &&
                                 strcmp(reply.field, "list.price_list_id") != 0))
            break;
        kt_reply_clear(&reply);
        kt_msg_free(*out);
        *req_id = id;
        status = s_call(c, service, method, req, rep, out, NULL, true, &reply);
    }
    if (status != KT_OK) {
        s_error("%s.%s (%s): %s: %s%s%s%s", service, method, what, kt_status_name(status),
                reply.message, reply.field[0] ? " (" : "", reply.field, reply.field[0] ? ")" : "");
        kt_msg_free(*out);
        *out = NULL;
    }
    kt_reply_clear(&reply);
    return status == KT_OK ? 0 : -1;
}

static int s_seed_org(s_conn_t *c, s_plan_t *p)
{
    char code[8], name[64], what[160], person[96];
    for (int64_t b = 1; b <= p->branches; b++) {
        s_branch_def(b, code, name);
        Kontor__Clients__Branch req = KONTOR__CLIENTS__BRANCH__INIT;
        req.id = b;
        req.code = code;
        req.name = name;
        ProtobufCMessage *out = NULL;
        snprintf(what, sizeof what, "branch %s", code);
        if (s_upsert_unique(c, "clients", "UpsertBranch", &req.base, &req.id,
                            &kontor__clients__branch__descriptor, &out, what) != 0)
            return -1;
        p->branch_id[b] = ((Kontor__Clients__Branch *)out)->id;
        kt_msg_free(out);
    }
    p->nmanagers = 1 + S_MGRS * p->branches;
    for (int64_t id = 1; id <= p->nmanagers; id++) {
        s_manager_name(p, id, person, sizeof person);
        Kontor__Clients__Manager req = KONTOR__CLIENTS__MANAGER__INIT;
        req.id = id;
        req.name = person;
        req.role = id == 1                 ? KONTOR__CLIENTS__MANAGER_ROLE__ROLE_HEAD
                   : s_manager_is_lead(id) ? KONTOR__CLIENTS__MANAGER_ROLE__ROLE_LEAD_MANAGER
                                           : KONTOR__CLIENTS__MANAGER_ROLE__ROLE_MANAGER;
        req.branch_id = p->branch_id[s_manager_branch(id)];
        snprintf(what, sizeof what, "manager %" PRId64, id);
        if (s_must(c, "clients", "UpsertManager", &req.base, &kontor__clients__manager__descriptor,
                   NULL, NULL, true, what) != 0)
            return -1;
    }
    p->nterritories = S_TERRITORIES * p->branches;
    for (int64_t t = 1; t <= p->nterritories; t++) {
        int64_t b = (t - 1) / S_TERRITORIES + 1;
        const s_branch_def_t *d = s_branch_def(b, code, name);
        char tname[128];
        int j = (int)((t - 1) % S_TERRITORIES);
        if (d->latin)
            snprintf(tname, sizeof tname, "%s %s", name, s_terr_lat[j]);
        else
            snprintf(tname, sizeof tname, "%s — %s", name, s_terr_ru[j]);
        Kontor__Clients__Territory req = KONTOR__CLIENTS__TERRITORY__INIT;
        req.id = t;
        req.branch_id = p->branch_id[b];
        req.name = tname;
        req.lead_manager_id = 2 + (b - 1) * S_MGRS + 2;
        ProtobufCMessage *out = NULL;
        snprintf(what, sizeof what, "territory %s", tname);
        if (s_upsert_unique(c, "clients", "UpsertTerritory", &req.base, &req.id,
                            &kontor__clients__territory__descriptor, &out, what) != 0)
            return -1;
        p->territory_id[t] = ((Kontor__Clients__Territory *)out)->id;
        p->terr_latin[t] = d->latin;
        p->nterr_latin += d->latin;
        kt_msg_free(out);
    }
    //  Each manager's plan for this month (the head has none).
    for (int64_t id = 2; id <= p->nmanagers; id++) {
        s_rng_t r = s_rng(p->seed, R_PLAN, (uint64_t)id);
        Kontor__Money revenue = KONTOR__MONEY__INIT;
        revenue.units = s_range(&r, 200, 900) * 10000; //  20,000-90,000 EUR
        revenue.currency = S_CURRENCY;
        Kontor__Clients__SetPlanRequest req = KONTOR__CLIENTS__SET_PLAN_REQUEST__INIT;
        req.manager_id = id;
        req.month = p->month;
        req.revenue = &revenue;
        req.active_clients = (int32_t)s_range(&r, 20, 80);
        req.new_clients = (int32_t)s_range(&r, 2, 8);
        snprintf(what, sizeof what, "plan of manager %" PRId64, id);
        if (s_must(c, "clients", "SetPlan", &req.base, &kontor__clients__plan__descriptor, NULL,
                   NULL, true, what) != 0)
            return -1;
    }
    return 0;
}

static int s_seed_warehouses(s_conn_t *c, s_plan_t *p)
{
    char code[8], name[64], what[96], wname[128], addr[160];
    p->nwarehouses = 1 + p->branches;
    for (int64_t w = 0; w < p->nwarehouses; w++) {
        Kontor__Logistics__UpsertWarehouseRequest req =
            KONTOR__LOGISTICS__UPSERT_WAREHOUSE_REQUEST__INIT;
        if (w == 0) {
            snprintf(p->warehouse_code[0], sizeof p->warehouse_code[0], "CENTRAL");
            snprintf(wname, sizeof wname, "Центральный склад");
            snprintf(addr, sizeof addr, "Московская обл., г. Подольск, ул. Складская, д. 1");
            req.kind = KONTOR__LOGISTICS__WAREHOUSE_KIND__CENTRAL;
            req.branch_id = p->branch_id[1];
        } else {
            const s_branch_def_t *d = s_branch_def(w, code, name);
            snprintf(p->warehouse_code[w], sizeof p->warehouse_code[w], "WH-%s", code);
            snprintf(wname, sizeof wname, d->latin ? "Lager %s" : "Склад %s", name);
            snprintf(addr, sizeof addr, d->latin ? "%s, Lagerweg 5" : "%s, ул. Складская, д. 5",
                     d->city);
            req.kind = KONTOR__LOGISTICS__WAREHOUSE_KIND__BRANCH;
            req.branch_id = p->branch_id[w];
        }
        req.code = p->warehouse_code[w];
        req.name = wname;
        req.address = addr;
        ProtobufCMessage *out = NULL;
        snprintf(what, sizeof what, "warehouse %s", p->warehouse_code[w]);
        if (s_must(c, "logistics", "UpsertWarehouse", &req.base,
                   &kontor__logistics__upsert_warehouse_reply__descriptor, &out, NULL, true,
                   what) != 0)
            return -1;
        p->warehouse_id[w] =
            ((Kontor__Logistics__UpsertWarehouseReply *)out)->warehouse->warehouse_id;
        kt_msg_free(out);
    }
    return 0;
}

static int s_seed_price_list(s_conn_t *c, s_plan_t *p)
{
    char from[11], name[96];
    //  Valid from the first of January of the database's year.
    s_date(from, p->today);
    memcpy(from + 5, "01-01", 5);
    snprintf(name, sizeof name, "Оптовый прайс-лист %.4s (EUR)", from);
    Kontor__Orders__PriceList list = KONTOR__ORDERS__PRICE_LIST__INIT;
    list.price_list_id = 1;
    list.name = name;
    list.currency = S_CURRENCY;
    list.valid_from = from;
    list.valid_to = "";
    Kontor__Orders__UpsertPriceListRequest req = KONTOR__ORDERS__UPSERT_PRICE_LIST_REQUEST__INIT;
    req.list = &list;
    ProtobufCMessage *out = NULL;
    if (s_upsert_unique(c, "orders", "UpsertPriceList", &req.base, &list.price_list_id,
                        &kontor__orders__upsert_price_list_reply__descriptor, &out,
                        "price list") != 0)
        return -1;
    p->price_list_id = ((Kontor__Orders__UpsertPriceListReply *)out)->list->price_list_id;
    kt_msg_free(out);
    return 0;
}

//  ---------------------------------------------------------------- catalogue

//  Analog groups: the three showcase groups of three, then groups of one to
//  four brands. p->group[i] is the group of SKU S_FIRST_SKU + i.
static int s_plan_groups(s_plan_t *p)
{
    p->group = calloc((size_t)p->skus + 1, sizeof *p->group);
    if (!p->group)
        return -1;
    int64_t i = 0, g = 0;
    while (i < p->skus) {
        g++;
        int64_t size;
        if (g <= 3)
            size = 3;
        else {
            s_rng_t r = s_rng(p->seed, R_GROUP, (uint64_t)g);
            size = s_range(&r, 1, 4);
        }
        for (int64_t k = 0; k < size && i < p->skus; k++)
            p->group[i++] = (int32_t)g;
    }
    p->ngroups = g;
    p->nwindows = (p->skus + S_WINDOW - 1) / S_WINDOW;
    return 0;
}

//  Everything about one SKU, from its group's stream and its own.
typedef struct {
    int64_t sku;
    int32_t group;
    int brand_no; //  position within its group
    char name[200];
    char analog[24];
    const s_family_t *family;
    int64_t weight_g;
    int64_t price[5]; //  columns A..E
} s_sku_t;

static void s_sku(const s_plan_t *p, int64_t sku, s_sku_t *out)
{
    int64_t i = sku - S_FIRST_SKU;
    memset(out, 0, sizeof *out);
    out->sku = sku;
    out->group = p->group[i];
    int64_t first = i;
    while (first > 0 && p->group[first - 1] == out->group)
        first--;
    out->brand_no = (int)(i - first);
    bool alone = (i + 1 >= p->skus || p->group[i + 1] != out->group) && out->brand_no == 0;
    s_rng_t g = s_rng(p->seed, R_GROUP, (uint64_t)out->group);
    size_t f = out->group <= 3 ? (size_t)(out->group - 1) : (size_t)(s_next(&g) % S_NFAMILIES);
    const s_family_t *fam = &s_families[f];
    out->family = fam;
    size_t nspecs = 0;
    while (fam->specs[nspecs])
        nspecs++;
    const char *spec = fam->specs[s_next(&g) % nspecs];
    int64_t base = s_range(&g, fam->price_lo, fam->price_hi);
    size_t nbrands = 0;
    while (fam->brands[nbrands])
        nbrands++;
    //  Brands of a group differ (a group has at most 4 members, every
    //  family at least 4 brands).
    size_t brand0 = s_next(&g) % nbrands;
    const char *brand = fam->brands[(brand0 + (size_t)out->brand_no) % nbrands];
    snprintf(out->name, sizeof out->name, "%s %s, %s", fam->name, spec, brand);
    if (!alone)
        snprintf(out->analog, sizeof out->analog, "AG-%06d", (int)out->group);
    s_rng_t r = s_rng(p->seed, R_SKU, (uint64_t)sku);
    out->weight_g = s_range(&r, fam->weight_lo, fam->weight_hi);
    int64_t a = base * s_range(&r, 85, 120) / 100;
    static const int col_pct[5] = {100, 96, 92, 88, 84};
    for (int k = 0; k < 5; k++)
        out->price[k] = a * col_pct[k] / 100;
}

//  Stock of SKU at warehouse w (0 central): on hand to receive, and an
//  arrival (qty, in days) for what is short.
static void s_stock(const s_plan_t *p, int64_t sku, int64_t w, const s_family_t *fam, int64_t *qty,
                    int64_t *arrive_qty, int64_t *arrive_days)
{
    s_rng_t r = s_rng(p->seed, R_STOCK, (uint64_t)sku * 131 + (uint64_t)w);
    *arrive_qty = 0;
    *arrive_days = 0;
    if (sku == S_SCARCE_SKU) {
        *qty = S_SCARCE_QTY;
        *arrive_qty = S_SCARCE_ARRIVE;
        *arrive_days = S_SCARCE_DAYS;
        return;
    }
    if (sku < S_FIRST_SKU + S_SHOWCASE) {
        *qty = s_range(&r, 400, 900);
        return;
    }
    int64_t scale = fam->big ? 10 : 1;
    int roll = (int)s_range(&r, 0, 99);
    if (w > 0 && roll < 40) { //  a branch carries 60 % of the range
        *qty = 0;
        return;
    }
    roll = (int)s_range(&r, 0, 99);
    if (roll < 7)
        *qty = 0;
    else if (roll < 22)
        *qty = s_range(&r, 1, 30 / (fam->big ? 3 : 1));
    else
        *qty = s_range(&r, 100, 3000) / scale * (w > 0 ? 1 : 3);
    //  A supplier order is on its way for half of what runs short centrally;
    //  branches mostly wait for transfers (few arrivals of their own).
    if (*qty < 30 && s_chance(&r, w == 0 ? 50 : 3)) {
        *arrive_qty = s_range(&r, 50, 800) / scale * 5;
        *arrive_days = s_range(&r, 3, 40);
    }
}

static int s_task_products(s_conn_t *c, int64_t window)
{
    const s_plan_t *p = c->plan;
    int64_t from = S_FIRST_SKU + window * S_WINDOW;
    int64_t n = p->skus - window * S_WINDOW;
    if (n > S_WINDOW)
        n = S_WINDOW;
    s_sku_t *skus = calloc((size_t)n, sizeof *skus);
    Kontor__Logistics__Product *prods = calloc((size_t)n, sizeof *prods);
    Kontor__Logistics__Product **ptrs = calloc((size_t)n, sizeof *ptrs);
    int rc = -1;
    if (skus && prods && ptrs) {
        for (int64_t k = 0; k < n; k++) {
            s_sku(p, from + k, &skus[k]);
            kontor__logistics__product__init(&prods[k]);
            prods[k].sku = skus[k].sku;
            prods[k].name = skus[k].name;
            prods[k].unit = (char *)skus[k].family->unit;
            prods[k].weight_g = skus[k].weight_g;
            prods[k].storage = (char *)skus[k].family->storage;
            prods[k].transport = (char *)skus[k].family->transport;
            prods[k].analog_group = skus[k].analog;
            ptrs[k] = &prods[k];
        }
        Kontor__Logistics__UpsertProductRequest req =
            KONTOR__LOGISTICS__UPSERT_PRODUCT_REQUEST__INIT;
        req.products = ptrs;
        req.n_products = (size_t)n;
        char what[64];
        snprintf(what, sizeof what, "SKUs %" PRId64 "-%" PRId64, from, from + n - 1);
        ProtobufCMessage *out = NULL;
        rc = s_must(c, "logistics", "UpsertProduct", &req.base,
                    &kontor__logistics__upsert_product_reply__descriptor, &out, NULL, true, what);
        if (rc == 0) {
            Kontor__Logistics__UpsertProductReply *r = (Kontor__Logistics__UpsertProductReply *)out;
            atomic_fetch_add(&s_stats.products_new, r->created);
            atomic_fetch_add(&s_stats.products_updated, r->updated);
        }
        kt_msg_free(out);
    } else
        s_error("out of memory");
    free(ptrs);
    free(prods);
    free(skus);
    return rc;
}

static int s_task_prices(s_conn_t *c, int64_t window)
{
    static char *const cols[5] = {"A", "B", "C", "D", "E"};
    const s_plan_t *p = c->plan;
    int64_t from = S_FIRST_SKU + window * S_WINDOW;
    int64_t n = p->skus - window * S_WINDOW;
    if (n > S_WINDOW)
        n = S_WINDOW;
    size_t np = (size_t)n * 5;
    Kontor__Orders__Price *prices = calloc(np, sizeof *prices);
    Kontor__Orders__Price **ptrs = calloc(np, sizeof *ptrs);
    int rc = -1;
    if (prices && ptrs) {
        for (int64_t k = 0; k < n; k++) {
            s_sku_t s;
            s_sku(p, from + k, &s);
            for (int col = 0; col < 5; col++) {
                Kontor__Orders__Price *pr = &prices[k * 5 + col];
                kontor__orders__price__init(pr);
                pr->sku = s.sku;
                pr->column = cols[col];
                pr->price = s.price[col];
                pr->analog_group = s.analog[0] ? s.group : 0;
                ptrs[k * 5 + col] = pr;
            }
        }
        Kontor__Orders__SetPricesRequest req = KONTOR__ORDERS__SET_PRICES_REQUEST__INIT;
        req.price_list_id = p->price_list_id;
        req.prices = ptrs;
        req.n_prices = np;
        char what[64];
        snprintf(what, sizeof what, "prices of SKUs %" PRId64 "-%" PRId64, from, from + n - 1);
        rc = s_must(c, "orders", "SetPrices", &req.base,
                    &kontor__orders__set_prices_reply__descriptor, NULL, NULL, true, what);
        if (rc == 0)
            atomic_fetch_add(&s_stats.prices, (long long)np);
    } else
        s_error("out of memory");
    free(ptrs);
    free(prices);
    return rc;
}

//  Receipts of one window at one warehouse, and its arrivals.
static int s_task_stock(s_conn_t *c, int64_t window, int64_t w)
{
    const s_plan_t *p = c->plan;
    int64_t from = S_FIRST_SKU + window * S_WINDOW;
    int64_t n = p->skus - window * S_WINDOW;
    if (n > S_WINDOW)
        n = S_WINDOW;
    Kontor__Logistics__StockLine *lines = calloc((size_t)n, sizeof *lines);
    Kontor__Logistics__StockLine **ptrs = calloc((size_t)n, sizeof *ptrs);
    int64_t *aq = calloc((size_t)n * 2, sizeof *aq);
    int rc = 0;
    if (!lines || !ptrs || !aq) {
        s_error("out of memory");
        rc = -1;
        goto done;
    }
    size_t nl = 0;
    for (int64_t k = 0; k < n; k++) {
        s_sku_t s;
        s_sku(p, from + k, &s);
        int64_t qty;
        s_stock(p, from + k, w, s.family, &qty, &aq[2 * k], &aq[2 * k + 1]);
        if (qty > 0) {
            kontor__logistics__stock_line__init(&lines[nl]);
            lines[nl].sku = from + k;
            lines[nl].qty = qty;
            ptrs[nl] = &lines[nl];
            nl++;
        }
    }
    char key[KT_KEY_MAX + 1], what[96];
    if (nl > 0) {
        Kontor__Logistics__ReceiveRequest req = KONTOR__LOGISTICS__RECEIVE_REQUEST__INIT;
        req.warehouse_id = p->warehouse_id[w];
        req.lines = ptrs;
        req.n_lines = nl;
        req.note = "kontor seed: opening stock";
        snprintf(key, sizeof key, "seed-%" PRIu64 "-receive-%s-%" PRId64 "-%" PRId64, p->seed,
                 p->warehouse_code[w], from, from + n - 1);
        snprintf(what, sizeof what, "receipt at %s of SKUs %" PRId64 "-%" PRId64,
                 p->warehouse_code[w], from, from + n - 1);
        rc = s_must(c, "logistics", "Receive", &req.base,
                    &kontor__logistics__stock_reply__descriptor, NULL, key, true, what);
        if (rc == 0) {
            atomic_fetch_add(&s_stats.stock_lines, (long long)nl);
            atomic_fetch_add(&s_stats.receipts, 1);
        }
    }
    char date[11];
    for (int64_t k = 0; k < n && !atomic_load(&s_stats.stop); k++) {
        if (aq[2 * k] <= 0)
            continue;
        s_date(date, p->today + aq[2 * k + 1]);
        Kontor__Logistics__ExpectArrivalRequest req =
            KONTOR__LOGISTICS__EXPECT_ARRIVAL_REQUEST__INIT;
        req.sku = from + k;
        req.warehouse_id = p->warehouse_id[w];
        req.qty = aq[2 * k];
        req.date = date;
        req.note = "kontor seed: supplier order";
        snprintf(key, sizeof key, "seed-%" PRIu64 "-arrival-%s-%" PRId64, p->seed,
                 p->warehouse_code[w], from + k);
        snprintf(what, sizeof what, "arrival of SKU %" PRId64 " at %s", from + k,
                 p->warehouse_code[w]);
        if (s_must(c, "logistics", "ExpectArrival", &req.base,
                   &kontor__logistics__expect_arrival_reply__descriptor, NULL, key, true,
                   what) == 0)
            atomic_fetch_add(&s_stats.arrivals, 1);
        else
            rc = -1;
    }
done:
    free(aq);
    free(ptrs);
    free(lines);
    return rc;
}

//  ---------------------------------------------------------------- clients

//  `n` decimal digits of v, zero-padded, into out (no terminator).
static void s_digits(char *out, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

//  Check digit of an INN: the weighted sum mod 11 mod 10.
static char s_inn_check(const char *d, const int *w, int n)
{
    int sum = 0;
    for (int i = 0; i < n; i++)
        sum += (d[i] - '0') * w[i];
    return (char)('0' + sum % 11 % 10);
}

//  10-digit INN: region, 7-digit body, check digit.
static void s_inn10(char out[16], int region, int64_t body)
{
    static const int w[9] = {2, 4, 10, 3, 5, 9, 4, 6, 8};
    s_digits(out, (uint64_t)region, 2);
    s_digits(out + 2, (uint64_t)body, 7);
    out[9] = s_inn_check(out, w, 9);
    out[10] = '\0';
}

//  12-digit INN of a sole trader: region, 8-digit body, two check digits.
static void s_inn12(char out[16], int region, int64_t body)
{
    static const int w1[10] = {7, 2, 4, 10, 3, 5, 9, 4, 6, 8};
    static const int w2[11] = {3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8};
    s_digits(out, (uint64_t)region, 2);
    s_digits(out + 2, (uint64_t)body, 8);
    out[10] = s_inn_check(out, w1, 10);
    out[11] = s_inn_check(out, w2, 11);
    out[12] = '\0';
}

//  A bijection of [0, 10^digits) (the multiplier is prime to 10), so no two
//  clients of one seed share a tax id.
static int64_t s_body(uint64_t seed, int64_t index, int digits)
{
    int64_t mod = 1;
    for (int i = 0; i < digits; i++)
        mod *= 10;
    return (int64_t)(((uint64_t)index * 7919u + seed * 1000003u) % (uint64_t)mod);
}

typedef struct {
    char name[200];
    char code[32];
    char tax_id[16];
    char legal[300];
    char delivery[300];
    const char *segment;
    int status;
    bool key_account;
    bool latin;
    int64_t territory_id;
    int64_t manager_id;
    char domain[64];
    bool holiday;
    char holiday_day[6];
    //  terms
    const char *column;
    int32_t discount_bp, payment_days, grace_days;
    int64_t limit;
    int short_policy;
    char contract[32], contract_date[11], contract_until[11];
    //  credit check
    char checked_on[11];
    int32_t score;
    const char *grade;
    int64_t recommended;
    int ncontacts;
} s_client_t;

static void s_client(const s_plan_t *p, int64_t i, s_client_t *c)
{
    memset(c, 0, sizeof *c);
    //  Who the client is (name, tax id, code, terms) comes from its own
    //  stream and does not depend on --branches; where it is, from another:
    //  a territory of a branch of its language when there is one.
    s_rng_t r = s_rng(p->seed, R_CLIENT, (uint64_t)i);
    s_rng_t place = s_rng(p->seed, R_PLACE, (uint64_t)i);
    c->latin = s_chance(&r, 35);
    int64_t nlike = c->latin ? p->nterr_latin : p->nterritories - p->nterr_latin;
    int64_t t = 0;
    int64_t pick = nlike > 0 ? s_range(&place, 1, nlike) : s_range(&place, 1, p->nterritories);
    for (int64_t j = 1; j <= p->nterritories && t == 0; j++)
        if (nlike == 0 || p->terr_latin[j] == c->latin)
            if (--pick == 0)
                t = j;
    int64_t b = (t - 1) / S_TERRITORIES + 1;
    char bcode[8], bname[64];
    const s_branch_def_t *d = s_branch_def(b, bcode, bname);
    c->territory_id = p->territory_id[t];
    snprintf(c->code, sizeof c->code, "K%" PRIu64 "-%07" PRId64, p->seed % 100000, i);
    int roll = (int)s_range(&r, 0, 99);
    if (!c->latin) {
        const s_word_t *w = &S_PICK(&r, s_ru_words);
        const s_word_t *sx = &S_PICK(&r, s_ru_suffixes);
        int region = (int)S_PICK(&r, ((const int[]){77, 78, 50, 54, 66, 16, 52, 63, 47, 23}));
        if (roll < 14) {
            static const char *const initials[] = {"А. В.", "С. П.", "И. Н.", "Е. А.", "Д. С."};
            snprintf(c->name, sizeof c->name, "ИП %s %s", S_PICK(&r, s_ru_last_m),
                     S_PICK(&r, initials));
            s_inn12(c->tax_id, region, s_body(p->seed, i, 8));
        } else {
            const char *form = roll < 24 ? "АО" : roll < 27 ? "ПАО" : "ООО";
            const char *td = roll >= 27 && roll < 37 ? "ТД " : "";
            snprintf(c->name, sizeof c->name, "%s «%s%s%s»", form, td, w->word, sx->word);
            s_inn10(c->tax_id, region, s_body(p->seed, i, 7));
        }
        snprintf(c->domain, sizeof c->domain, "%s%s.ru", w->latin, sx->latin);
        snprintf(c->legal, sizeof c->legal, "%s, %s, д. %d", d->latin ? "г. Москва" : d->city,
                 S_PICK(&r, s_ru_streets), (int)s_range(&r, 1, 120));
        c->segment = S_PICK(&r, s_ru_segments);
    } else {
        const char *w = S_PICK(&r, s_lat_words);
        const char *second = S_PICK(&r, s_lat_seconds);
        const s_lat_form_t *f =
            &s_lat_forms[s_next(&r) % (sizeof s_lat_forms / sizeof s_lat_forms[0])];
        snprintf(c->name, sizeof c->name, "%s%s%s %s", w, second[0] ? " " : "", second, f->form);
        char body[16];
        snprintf(body, sizeof body, "%0*" PRId64, f->digits, s_body(p->seed, i, f->digits));
        snprintf(c->tax_id, sizeof c->tax_id, "%s%s%s", f->country, body, f->tail);
        char slug[48];
        size_t k = 0;
        for (const char *s = w; *s && k + 1 < sizeof slug; s++)
            if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
                slug[k++] = (char)(*s | 0x20);
        slug[k] = '\0';
        snprintf(c->domain, sizeof c->domain, "%s-%s.eu", slug,
                 f->country[0] == 'D' ? "gmbh" : "trade");
        snprintf(c->legal, sizeof c->legal, "%s %d, %05d %s", S_PICK(&r, s_lat_streets),
                 (int)s_range(&r, 1, 120), (int)s_range(&r, 10000, 99999),
                 d->latin ? d->city : "Hamburg");
        c->segment = S_PICK(&r, s_lat_segments);
    }
    if (s_chance(&r, 30))
        snprintf(c->delivery, sizeof c->delivery, "%s, %s %d", d->city,
                 d->latin ? "Lagerhalle" : "склад", (int)s_range(&r, 1, 40));
    else
        snprintf(c->delivery, sizeof c->delivery, "%s", c->legal);
    roll = (int)s_range(&r, 0, 99);
    c->status = roll < 80   ? KONTOR__CLIENTS__CLIENT_STATUS__ACTIVE
                : roll < 90 ? KONTOR__CLIENTS__CLIENT_STATUS__PROSPECT
                : roll < 96 ? KONTOR__CLIENTS__CLIENT_STATUS__BLOCKED
                            : KONTOR__CLIENTS__CLIENT_STATUS__ARCHIVED;
    c->key_account = s_chance(&r, 4);
    int64_t first_mgr = 2 + (b - 1) * S_MGRS;
    c->manager_id = c->key_account ? first_mgr + 2
                                   : first_mgr + (int64_t)S_PICK(&place, ((const int[]){0, 1, 3}));
    c->holiday = s_chance(&r, 15);
    snprintf(c->holiday_day, sizeof c->holiday_day, "%02d-%02d", (int)s_range(&r, 1, 12),
             (int)s_range(&r, 1, 28));
    //  Terms.
    static const char *const columns[] = {"A", "A", "B", "B", "B", "C", "C", "D", "E"};
    c->column = S_PICK(&r, columns);
    c->discount_bp = (int32_t)(s_range(&r, 0, 10) * 50); //  0-5 % in half percents
    c->payment_days = (int32_t)S_PICK(&r, ((const int[]){0, 7, 14, 14, 30, 30, 45, 60}));
    c->grace_days = (int32_t)S_PICK(&r, ((const int[]){3, 5, 5, 7, 10, 15}));
    roll = (int)s_range(&r, 0, 99);
    if (c->payment_days == 0)
        c->limit = 0; //  prepayment
    else if (roll < 12)
        c->limit = s_range(&r, 5, 20) * 10000; //  tight: 500-2,000 EUR
    else if (c->key_account)
        c->limit = s_range(&r, 50, 300) * 100000;
    else
        c->limit = s_range(&r, 3, 60) * 100000; //  3,000-60,000 EUR
    c->short_policy = s_chance(&r, 80) ? KONTOR__CLIENTS__SHORT_POLICY__SHIP_AVAILABLE
                                       : KONTOR__CLIENTS__SHORT_POLICY__WAIT_FOR_ALL;
    int64_t signed_on = p->today - s_range(&r, 30, 1500);
    s_date(c->contract_date, signed_on);
    if (s_chance(&r, 60))
        s_date(c->contract_until, signed_on + 365 * s_range(&r, 1, 5));
    snprintf(c->contract, sizeof c->contract, c->latin ? "V-%.4s/%06" PRId64 : "Д-%.4s/%06" PRId64,
             c->contract_date, i);
    //  Credit check.
    s_date(c->checked_on, p->today - s_range(&r, 0, 300));
    c->score = (int32_t)s_range(&r, 280, 960);
    c->grade = c->score >= 800 ? "A" : c->score >= 650 ? "B" : c->score >= 450 ? "C" : "D";
    c->recommended = c->limit + s_range(&r, 0, 10) * 50000;
    c->ncontacts = 1 + s_chance(&r, 30) + s_chance(&r, 10);
}

static void s_contact(const s_plan_t *p, int64_t i, int j, const s_client_t *cl,
                      Kontor__Clients__Contact *ct, char *name, char *phone, char *email,
                      char *birthday)
{
    s_rng_t r = s_rng(p->seed, R_CONTACT, (uint64_t)i * 4 + (uint64_t)j);
    kontor__clients__contact__init(ct);
    static const char *const mailbox_ru[] = {"info", "zakupki", "snab", "buh", "office"};
    static const char *const mailbox_lat[] = {"info", "einkauf", "office", "buchhaltung"};
    if (cl->latin) {
        const char *first = S_PICK(&r, s_lat_first), *last = S_PICK(&r, s_lat_last);
        snprintf(name, 96, "%s %s", first, last);
        ct->position = (char *)S_PICK(&r, s_lat_positions);
        snprintf(phone, 32, "+49 %d %07d", (int)s_range(&r, 30, 89),
                 (int)s_range(&r, 1000000, 9999999));
        snprintf(email, 96, "%s@%s", S_PICK(&r, mailbox_lat), cl->domain);
    } else {
        size_t k = s_next(&r) % (sizeof s_ru_first / sizeof s_ru_first[0]);
        snprintf(name, 96, "%s%s %s", S_PICK(&r, s_ru_last_m), k % 2 ? "а" : "", s_ru_first[k]);
        ct->position = (char *)S_PICK(&r, s_ru_positions);
        snprintf(phone, 32, "+7 %03d %03d-%02d-%02d", (int)s_range(&r, 495, 999),
                 (int)s_range(&r, 100, 999), (int)s_range(&r, 10, 99), (int)s_range(&r, 10, 99));
        snprintf(email, 96, "%s@%s", S_PICK(&r, mailbox_ru), cl->domain);
    }
    if (s_chance(&r, 60))
        s_date(birthday, p->today - 365 * s_range(&r, 24, 60) - s_range(&r, 0, 364));
    else
        birthday[0] = '\0';
    ct->name = name;
    ct->phone = phone;
    ct->email = email;
    ct->birthday = birthday;
    ct->decision_maker = j == 0;
}

//  Look a client up by tax id, with what it already has. *view_out NULL
//  when none has it.
static int s_existing(s_conn_t *c, const s_client_t *cl, Kontor__Clients__ClientView **view_out)
{
    *view_out = NULL;
    Kontor__Clients__SearchClientsRequest sreq = KONTOR__CLIENTS__SEARCH_CLIENTS_REQUEST__INIT;
    sreq.tax_id = (char *)cl->tax_id;
    sreq.limit = 1;
    ProtobufCMessage *out = NULL;
    if (s_must(c, "clients", "SearchClients", &sreq.base,
               &kontor__clients__search_clients_reply__descriptor, &out, NULL, true,
               cl->tax_id) != 0)
        return -1;
    Kontor__Clients__SearchClientsReply *found = (Kontor__Clients__SearchClientsReply *)out;
    int64_t id = found->n_clients > 0 ? found->clients[0]->id : 0;
    kt_msg_free(out);
    if (id == 0) {
        s_error("client %s (tax id %s): its code is taken by another client", cl->name, cl->tax_id);
        return -1;
    }
    Kontor__Clients__ClientRequest greq = KONTOR__CLIENTS__CLIENT_REQUEST__INIT;
    greq.client_id = id;
    if (s_must(c, "clients", "GetClient", &greq.base, &kontor__clients__client_view__descriptor,
               &out, NULL, true, cl->tax_id) != 0)
        return -1;
    *view_out = (Kontor__Clients__ClientView *)out;
    return 0;
}

static int s_one_client(s_conn_t *c, int64_t i)
{
    const s_plan_t *p = c->plan;
    s_client_t cl;
    s_client(p, i, &cl);
    char why[256];
    if (kt_check_tax_id("tax_id", cl.tax_id, why, sizeof why) != 0) {
        s_error("kontor seed made an invalid tax id: %s", why);
        return -1;
    }
    Kontor__Clients__Holiday hol = KONTOR__CLIENTS__HOLIDAY__INIT;
    Kontor__Clients__Holiday *hols[1] = {&hol};
    hol.name = cl.latin ? "Firmenjubiläum" : "День компании";
    hol.day = cl.holiday_day;
    Kontor__Clients__CreateClientRequest req = KONTOR__CLIENTS__CREATE_CLIENT_REQUEST__INIT;
    req.code = cl.code;
    req.name = cl.name;
    req.tax_id = cl.tax_id;
    req.legal_address = cl.legal;
    req.delivery_address = cl.delivery;
    req.segment = (char *)cl.segment;
    req.status = cl.status;
    req.key_account = cl.key_account;
    req.territory_id = cl.territory_id;
    req.manager_id = cl.manager_id;
    req.holidays = cl.holiday ? hols : NULL;
    req.n_holidays = cl.holiday ? 1 : 0;
    req.currency = S_CURRENCY;
    kt_reply_t reply;
    ProtobufCMessage *out = NULL;
    int status = s_call(c, "clients", "CreateClient", &req.base,
                        &kontor__clients__client_card__descriptor, &out, NULL, true, &reply);
    int64_t id = 0;
    bool has_check = false, has_terms = false;
    size_t has_contacts = 0;
    if (status == KT_OK) {
        id = ((Kontor__Clients__ClientCard *)out)->id;
        atomic_fetch_add(&s_stats.clients_new, 1);
    } else if (status == KT_ALREADY_EXISTS) {
        Kontor__Clients__ClientView *view = NULL;
        if (s_existing(c, &cl, &view) != 0) {
            kt_reply_clear(&reply);
            kt_msg_free(out);
            return -1;
        }
        id = view->card->id;
        has_check = view->latest_credit_check != NULL;
        //  CreateClient writes default terms with the reason "created".
        has_terms = view->terms && view->terms->why && strcmp(view->terms->why, "created") != 0;
        has_contacts = view->n_contacts;
        kt_msg_free(&view->base);
        atomic_fetch_add(&s_stats.clients_existing, 1);
    } else {
        s_error("clients.CreateClient (%s, tax id %s): %s: %s%s%s%s", cl.name, cl.tax_id,
                kt_status_name(status), reply.message, reply.field[0] ? " (" : "", reply.field,
                reply.field[0] ? ")" : "");
    }
    kt_reply_clear(&reply);
    kt_msg_free(out);
    if (id == 0)
        return -1;

    char what[64];
    snprintf(what, sizeof what, "client %" PRId64, id);
    int rc = 0;
    if (!has_check) {
        Kontor__Money rec = KONTOR__MONEY__INIT;
        rec.units = cl.recommended;
        rec.currency = S_CURRENCY;
        Kontor__Clients__CreditCheck ck = KONTOR__CLIENTS__CREDIT_CHECK__INIT;
        ck.client_id = id;
        ck.checked_on = cl.checked_on;
        ck.sources = cl.latin ? "Creditreform, Bankauskunft" : "ЕГРЮЛ, СПАРК, справка банка";
        ck.score = cl.score;
        ck.grade = (char *)cl.grade;
        ck.recommended_limit = &rec;
        ck.note = cl.limit == 0 ? "prepayment only" : "";
        if (s_must(c, "clients", "RecordCreditCheck", &ck.base,
                   &kontor__clients__credit_check__descriptor, NULL, NULL, false, what) == 0)
            atomic_fetch_add(&s_stats.checks, 1);
        else
            rc = -1;
    }
    if (!has_terms && rc == 0) {
        Kontor__Money lim = KONTOR__MONEY__INIT;
        lim.units = cl.limit;
        lim.currency = S_CURRENCY;
        Kontor__Clients__SetTermsRequest t = KONTOR__CLIENTS__SET_TERMS_REQUEST__INIT;
        t.client_id = id;
        t.contract_number = cl.contract;
        t.contract_date = cl.contract_date;
        t.contract_until = cl.contract_until;
        t.price_column = (char *)cl.column;
        t.discount_bp = cl.discount_bp;
        t.payment_days = cl.payment_days;
        t.grace_days = cl.grace_days;
        t.credit_limit = &lim;
        t.short_policy = cl.short_policy;
        t.why = "kontor seed: contract terms";
        if (s_must(c, "clients", "SetTerms", &t.base, &kontor__clients__terms_reply__descriptor,
                   NULL, NULL, true, what) == 0)
            atomic_fetch_add(&s_stats.terms, 1);
        else
            rc = -1;
    }
    for (int j = (int)has_contacts; j < cl.ncontacts && rc == 0; j++) {
        Kontor__Clients__Contact ct;
        char name[96], phone[32], email[96], birthday[11];
        s_contact(p, i, j, &cl, &ct, name, phone, email, birthday);
        ct.client_id = id;
        if (kt_check_phone("phone", phone, why, sizeof why) != 0 ||
            kt_check_email("email", email, why, sizeof why) != 0) {
            s_error("kontor seed made an invalid contact: %s", why);
            return -1;
        }
        if (s_must(c, "clients", "UpsertContact", &ct.base, &kontor__clients__contact__descriptor,
                   NULL, NULL, false, what) == 0)
            atomic_fetch_add(&s_stats.contacts, 1);
        else
            rc = -1;
    }
    return rc;
}

//  One client of a batch, with everything its ImportClient points to.
typedef struct {
    s_client_t cl;
    Kontor__Clients__ImportClient imp;
    Kontor__Clients__Holiday hol;
    Kontor__Clients__Holiday *hols[1];
    Kontor__Clients__SetTermsRequest terms;
    Kontor__Money limit, rec;
    Kontor__Clients__CreditCheck check;
    Kontor__Clients__Contact contacts[3];
    Kontor__Clients__Contact *contact_ptrs[3];
    char names[3][96], phones[3][32], emails[3][96], birthdays[3][11];
} s_import_one_t;

//  Client i as ImportClients takes it. 0, or -1 if kontor seed made a
//  value the service would refuse (a bug here: reported).
static int s_import_one(const s_plan_t *p, int64_t i, s_import_one_t *o)
{
    memset(o, 0, sizeof *o);
    s_client_t *cl = &o->cl;
    s_client(p, i, cl);
    char why[256];
    if (kt_check_tax_id("tax_id", cl->tax_id, why, sizeof why) != 0) {
        s_error("kontor seed made an invalid tax id: %s", why);
        return -1;
    }
    Kontor__Clients__ImportClient *c = &o->imp;
    kontor__clients__import_client__init(c);
    c->code = cl->code;
    c->name = cl->name;
    c->tax_id = cl->tax_id;
    c->legal_address = cl->legal;
    c->delivery_address = cl->delivery;
    c->segment = (char *)cl->segment;
    c->status = cl->status;
    c->key_account = cl->key_account;
    c->territory_id = cl->territory_id;
    c->manager_id = cl->manager_id;
    c->currency = S_CURRENCY;
    if (cl->holiday) {
        kontor__clients__holiday__init(&o->hol);
        o->hol.name = cl->latin ? "Firmenjubiläum" : "День компании";
        o->hol.day = cl->holiday_day;
        o->hols[0] = &o->hol;
        c->holidays = o->hols;
        c->n_holidays = 1;
    }
    kontor__money__init(&o->limit);
    o->limit.units = cl->limit;
    o->limit.currency = S_CURRENCY;
    Kontor__Clients__SetTermsRequest *t = &o->terms;
    kontor__clients__set_terms_request__init(t);
    t->contract_number = cl->contract;
    t->contract_date = cl->contract_date;
    t->contract_until = cl->contract_until;
    t->price_column = (char *)cl->column;
    t->discount_bp = cl->discount_bp;
    t->payment_days = cl->payment_days;
    t->grace_days = cl->grace_days;
    t->credit_limit = &o->limit;
    t->short_policy = cl->short_policy;
    t->why = "kontor seed: contract terms";
    c->terms = t;
    kontor__money__init(&o->rec);
    o->rec.units = cl->recommended;
    o->rec.currency = S_CURRENCY;
    Kontor__Clients__CreditCheck *ck = &o->check;
    kontor__clients__credit_check__init(ck);
    ck->checked_on = cl->checked_on;
    ck->sources = cl->latin ? "Creditreform, Bankauskunft" : "ЕГРЮЛ, СПАРК, справка банка";
    ck->score = cl->score;
    ck->grade = (char *)cl->grade;
    ck->recommended_limit = &o->rec;
    ck->note = cl->limit == 0 ? "prepayment only" : "";
    c->credit_check = ck;
    for (int j = 0; j < cl->ncontacts; j++) {
        s_contact(p, i, j, cl, &o->contacts[j], o->names[j], o->phones[j], o->emails[j],
                  o->birthdays[j]);
        if (kt_check_phone("phone", o->phones[j], why, sizeof why) != 0 ||
            kt_check_email("email", o->emails[j], why, sizeof why) != 0) {
            s_error("kontor seed made an invalid contact: %s", why);
            return -1;
        }
        o->contact_ptrs[j] = &o->contacts[j];
    }
    c->contacts = o->contact_ptrs;
    c->n_contacts = (size_t)cl->ncontacts;
    return 0;
}

//  Clients first .. first + count - 1 in one ImportClients, or in halves
//  when they would not fit in a message. A batch some of whose clients
//  exist already goes one client at a time (s_one_client). Returns 0 or -1.
static int s_import_range(s_conn_t *c, const s_import_one_t *ones, int64_t first, int64_t count)
{
    const s_plan_t *p = c->plan;
    Kontor__Clients__ImportClient **ptrs = calloc((size_t)count, sizeof *ptrs);
    if (!ptrs) {
        s_error("out of memory");
        return -1;
    }
    for (int64_t k = 0; k < count; k++)
        ptrs[k] = (Kontor__Clients__ImportClient *)&ones[k].imp;
    Kontor__Clients__ImportClientsRequest req = KONTOR__CLIENTS__IMPORT_CLIENTS_REQUEST__INIT;
    req.clients = ptrs;
    req.n_clients = (size_t)count;
    size_t size = protobuf_c_message_get_packed_size(&req.base);
    if (size > p->max_request && count > 1) {
        free(ptrs);
        int64_t half = count / 2;
        int a = s_import_range(c, ones, first, half);
        int b = s_import_range(c, ones + half, first + half, count - half);
        return a == 0 && b == 0 ? 0 : -1;
    }
    //  The same batch of the same data set has the same key, whichever
    //  run sends it: a retry (or a rerun) gets the first reply.
    char key[KT_KEY_MAX + 1];
    snprintf(key, sizeof key, "seed-%" PRIu64 "-b%" PRId64 "-clients-%" PRId64 "-%" PRId64,
             p->seed, p->branches, first, first + count - 1);
    kt_reply_t reply;
    ProtobufCMessage *out = NULL;
    int status;
    //  Silence (a lost request, a busy set) is tried again under the key: a
    //  batch that did go in answers with its first reply.
    for (int attempt = 1;; attempt++) {
        status = s_call(c, "clients", "ImportClients", &req.base,
                        &kontor__clients__import_clients_reply__descriptor, &out, key, true,
                        &reply);
        if ((status != KT_DEADLINE_EXCEEDED && status != KT_UNAVAILABLE) ||
            attempt == S_IMPORT_ATTEMPTS || atomic_load(&s_stats.stop))
            break;
        kt_reply_clear(&reply);
        kt_msg_free(out);
        out = NULL;
    }
    free(ptrs);
    int rc = 0;
    if (status == KT_OK) {
        Kontor__Clients__ImportClientsReply *r = (Kontor__Clients__ImportClientsReply *)out;
        atomic_fetch_add(&s_stats.imports, 1);
        if (r->replayed) //  imported by an earlier run: nothing new
            atomic_fetch_add(&s_stats.clients_existing, (long long)r->n_client_ids);
        else {
            atomic_fetch_add(&s_stats.clients_new, (long long)r->n_client_ids);
            atomic_fetch_add(&s_stats.terms, (long long)r->n_client_ids);
            atomic_fetch_add(&s_stats.checks, r->credit_checks);
            atomic_fetch_add(&s_stats.contacts, r->contacts);
        }
        atomic_fetch_add(&s_stats.clients_done, count);
    } else if (status == KT_ALREADY_EXISTS || status == KT_ABORTED) {
        //  Some are there already (or the key served another batch): each
        //  client on its own, completing what it lacks.
        for (int64_t k = 0; k < count && !atomic_load(&s_stats.stop); k++) {
            if (s_one_client(c, first + k) != 0)
                rc = -1;
            atomic_fetch_add(&s_stats.clients_done, 1);
        }
    } else {
        s_error("clients.ImportClients (clients %" PRId64 "-%" PRId64 "): %s: %s%s%s%s", first,
                first + count - 1, kt_status_name(status), reply.message,
                reply.field[0] ? " (" : "", reply.field, reply.field[0] ? ")" : "");
        rc = -1;
    }
    kt_reply_clear(&reply);
    kt_msg_free(out);
    return rc;
}

static int s_task_clients(s_conn_t *c, int64_t first, int64_t count)
{
    s_import_one_t *ones = calloc((size_t)count, sizeof *ones);
    if (!ones) {
        s_error("out of memory");
        return -1;
    }
    int rc = 0;
    for (int64_t k = 0; k < count && rc == 0; k++)
        rc = s_import_one(c->plan, first + k, &ones[k]);
    if (rc == 0)
        rc = s_import_range(c, ones, first, count);
    free(ones);
    return rc;
}

//  ---------------------------------------------------------------- the work list

//  Kinds of pieces, in the order a window's pieces must go.
enum { T_PRODUCTS, T_PRICES, T_STOCK, T_CLIENTS };

typedef struct {
    int kind;
    int64_t a, b;   //  window and warehouse, or the first client and the count
    int64_t weight; //  about how many calls it takes, for the progress bar
} s_task_t;

typedef struct {
    s_plan_t *plan;
    s_task_t *tasks;
    int64_t ntasks;
    int64_t weight; //  of all tasks
    atomic_llong next;
    atomic_int *window_ready; //  per window: 0 pending, 1 products in, -1 failed
    kontor_t *k;
} s_work_t;

//  Catalogue pieces (products and prices of each window, then its stock
//  per warehouse) merged evenly with chunks of clients.
static int s_plan_tasks(s_work_t *w)
{
    s_plan_t *p = w->plan;
    int64_t ncat = p->nwindows * (2 + p->nwarehouses);
    int64_t ncli = (p->clients + S_CHUNK - 1) / S_CHUNK;
    w->tasks = calloc((size_t)(ncat + ncli + 1), sizeof *w->tasks);
    w->window_ready = calloc((size_t)p->nwindows + 1, sizeof *w->window_ready);
    if (!w->tasks || !w->window_ready)
        return -1;
    s_task_t *cat = calloc((size_t)ncat + 1, sizeof *cat);
    if (!cat)
        return -1;
    int64_t n = 0;
    for (int64_t win = 0; win < p->nwindows; win++) {
        cat[n++] = (s_task_t){T_PRODUCTS, win, 0, 3};
        cat[n++] = (s_task_t){T_PRICES, win, 0, 3};
    }
    //  A window's stock: a receipt and the arrivals of what is short (a
    //  tenth of the window centrally, a few at branches).
    for (int64_t win = 0; win < p->nwindows; win++)
        for (int64_t wh = 0; wh < p->nwarehouses; wh++)
            cat[n++] = (s_task_t){T_STOCK, win, wh, 2 + S_WINDOW / (wh == 0 ? 10 : 200)};
    int64_t ic = 0, ik = 0;
    while (ic < ncat || ik < ncli) {
        //  Take a catalogue piece while it is behind the clients' share.
        bool take_cat = ik >= ncli || (ic < ncat && ic * ncli <= ik * ncat);
        if (take_cat)
            w->tasks[w->ntasks++] = cat[ic++];
        else {
            int64_t first = 1 + ik * S_CHUNK;
            int64_t count = p->clients - (first - 1);
            if (count > S_CHUNK)
                count = S_CHUNK;
            w->tasks[w->ntasks++] = (s_task_t){T_CLIENTS, first, count, count / 10 + 1};
            ik++;
        }
    }
    for (int64_t i = 0; i < w->ntasks; i++)
        w->weight += w->tasks[i].weight;
    free(cat);
    return 0;
}

static void s_nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void *s_worker(void *arg)
{
    s_work_t *w = arg;
    s_conn_t c = {kt_client_new(&w->k->cfg), w->plan};
    if (!c.client) {
        s_error("cannot read the keys to reach the bus (KONTOR_CERT=%s)", w->k->cfg.cert);
        atomic_store(&s_stats.stop, true);
        return NULL;
    }
    while (!atomic_load(&s_stats.stop)) {
        int64_t i = atomic_fetch_add(&w->next, 1);
        if (i >= w->ntasks)
            break;
        const s_task_t *t = &w->tasks[i];
        switch (t->kind) {
        case T_PRODUCTS:
            atomic_store(&w->window_ready[t->a], s_task_products(&c, t->a) == 0 ? 1 : -1);
            break;
        case T_PRICES:
            s_task_prices(&c, t->a);
            break;
        case T_STOCK:
            //  Stock needs the window's products: wait for the piece before.
            while (atomic_load(&w->window_ready[t->a]) == 0 && !atomic_load(&s_stats.stop))
                s_nap_ms(5);
            if (atomic_load(&w->window_ready[t->a]) == 1)
                s_task_stock(&c, t->a, t->b);
            break;
        case T_CLIENTS:
            s_task_clients(&c, t->a, t->b);
            break;
        }
        atomic_fetch_add(&s_stats.tasks_done, 1);
        atomic_fetch_add(&s_stats.weight_done, t->weight);
    }
    kt_client_destroy(&c.client);
    return NULL;
}

//  ---------------------------------------------------------------- progress

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void s_duration(char *out, size_t size, double s)
{
    if (s < 0 || s > 1e7)
        snprintf(out, size, "?");
    else if (s < 60)
        snprintf(out, size, "%.0fs", s);
    else if (s < 3600)
        snprintf(out, size, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(out, size, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

static void s_progress(const s_work_t *w, double t0, bool tty, bool last)
{
    const s_plan_t *p = w->plan;
    double el = s_now() - t0;
    long long done = atomic_load(&s_stats.weight_done);
    double frac = w->weight ? (double)done / (double)w->weight : 1.0;
    long long calls = atomic_load(&s_stats.calls);
    long long cl = atomic_load(&s_stats.clients_done);
    long long prods = atomic_load(&s_stats.products_new) + atomic_load(&s_stats.products_updated);
    char eta[16];
    s_duration(eta, sizeof eta, frac > 0.001 ? el / frac - el : -1);
    if (tty) {
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr,
                "\r[%s] %3d%%  clients %lld/%lld  SKUs %lld/%lld  stock lines %lld  "
                "%.0f calls/s  ETA %s   ",
                bar, (int)(frac * 100), cl, (long long)p->clients, prods, (long long)p->skus,
                (long long)atomic_load(&s_stats.stock_lines), el > 0 ? (double)calls / el : 0.0,
                last ? "0s" : eta);
        if (last)
            fprintf(stderr, "\n");
    } else
        fprintf(stderr,
                "seed: %3d%% clients %lld/%lld, SKUs %lld/%lld, stock lines %lld, "
                "arrivals %lld, %lld calls in %.1f s (%.0f/s)%s%s\n",
                (int)(frac * 100), cl, (long long)p->clients, prods, (long long)p->skus,
                (long long)atomic_load(&s_stats.stock_lines),
                (long long)atomic_load(&s_stats.arrivals), calls, el,
                el > 0 ? (double)calls / el : 0.0, last ? "" : ", about ", last ? "" : eta);
    fflush(stderr);
}

//  ---------------------------------------------------------------- command line

static const char s_help[] =
    "usage: kontor seed [--clients N] [--skus N] [--branches N] [--seed S] [--threads T]\n"
    "\n"
    "Loads a realistic data set through the services' methods: branches, managers,\n"
    "territories and plans; clients with credit checks, terms and contacts\n"
    "(ImportClients, 1,000 a call);\n"
    "warehouses, products in analog groups, a price list (columns A..E), stock\n"
    "and expected arrivals. Deterministic: the same options give the same data,\n"
    "and running it again adds nothing twice.\n"
    "\n"
    "  --clients N    clients (default 1000, at most 10000000)\n"
    "  --skus N       products (default 1000, at most 1000000)\n"
    "  --branches N   branches, each with 3 territories, 4 managers and a\n"
    "                 warehouse (default 3, at most 99)\n"
    "  --seed S       the data set's seed (default 1)\n"
    "  --threads T    connections working at once (default 8, at most 64)\n"
    "  --timeout MS   budget of each call (default 30000)\n"
    "  --as PRINCIPAL act as PRINCIPAL (default: admin on the local set); needs\n"
    "                 a head or admin\n"
    "\n"
    "Progress on standard error, the summary on standard output.\n"
    "Exit status: 0 done, 1 some calls were refused, 2 usage, 3 bus unreachable.\n"
    "\n"
    "examples:\n"
    "  kontor seed --clients 500 --skus 1000 --branches 2\n"
    "  kontor seed --clients 1000000 --skus 100000 --branches 10 --threads 12\n";

static int s_number(const char *opt, const char *value, int64_t min, int64_t max, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = value ? strtoll(value, &end, 10) : 0;
    if (!value || !*value || *end || errno || v < min || v > max)
        return kontor_usage_error("%s needs a number from %" PRId64 " to %" PRId64 ", not '%s'",
                                  opt, min, max, value ? value : "");
    *out = v;
    return 0;
}

//  "--name value" or "--name=value": the value, or NULL if arg is not --name.
static const char *s_opt(int argc, char **argv, int *i, const char *name)
{
    size_t len = strlen(name);
    if (strncmp(argv[*i], name, len) != 0)
        return NULL;
    if (argv[*i][len] == '=')
        return argv[*i] + len + 1;
    if (argv[*i][len] != '\0')
        return NULL;
    if (*i + 1 >= argc)
        return "";
    return argv[++*i];
}

static int s_parse(int argc, char **argv, s_plan_t *p, bool *help)
{
    int64_t v;
    for (int i = 1; i < argc; i++) {
        const char *val;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            *help = true;
        else if ((val = s_opt(argc, argv, &i, "--clients"))) {
            if (s_number("--clients", val, 0, S_CLIENTS_MAX, &p->clients))
                return KONTOR_EXIT_USAGE;
        } else if ((val = s_opt(argc, argv, &i, "--skus"))) {
            if (s_number("--skus", val, 0, S_SKUS_MAX, &p->skus))
                return KONTOR_EXIT_USAGE;
        } else if ((val = s_opt(argc, argv, &i, "--branches"))) {
            if (s_number("--branches", val, 1, S_BRANCHES_MAX, &p->branches))
                return KONTOR_EXIT_USAGE;
        } else if ((val = s_opt(argc, argv, &i, "--seed"))) {
            if (s_number("--seed", val, 0, INT64_MAX, &v))
                return KONTOR_EXIT_USAGE;
            p->seed = (uint64_t)v;
        } else if ((val = s_opt(argc, argv, &i, "--threads"))) {
            if (s_number("--threads", val, 1, S_THREADS_MAX, &v))
                return KONTOR_EXIT_USAGE;
            p->threads = (int)v;
        } else if ((val = s_opt(argc, argv, &i, "--timeout"))) {
            if (s_number("--timeout", val, 1, KONTOR_TIMEOUT_MAX_MS, &v))
                return KONTOR_EXIT_USAGE;
            p->timeout_ms = (int)v;
        } else if ((val = s_opt(argc, argv, &i, "--as"))) {
            if (!*val)
                return kontor_usage_error("--as needs a principal's name, e.g. --as head-1");
            p->as = val;
        } else
            return kontor_usage_error("seed: unknown argument '%s' (kontor seed --help)", argv[i]);
    }
    return 0;
}

//  The database's today, from the clients service's Status.
static int s_today(kontor_t *k, s_plan_t *p)
{
    Kontor__StatusRequest req = KONTOR__STATUS_REQUEST__INIT;
    //  The first call: a bus that is not there should not take the whole
    //  budget of a bulk call to say so.
    kt_call_opts_t opts = {.timeout_ms = p->timeout_ms < 5000 ? p->timeout_ms : 5000,
                           .retry = true};
    ProtobufCMessage *out = NULL;
    kt_reply_t reply;
    int status = kt_client_call(k->client, "clients", "Status", &req.base,
                                &kontor__status_reply__descriptor, &out, &opts, &reply);
    if (status != KT_OK) {
        kontor_print_refusal(&reply);
        kt_reply_clear(&reply);
        kt_msg_free(out);
        return kontor_exit_for(status);
    }
    kt_reply_clear(&reply);
    int64_t ms = ((Kontor__StatusReply *)out)->db_time_ms;
    kt_msg_free(out);
    p->today = ms / 86400000;
    char d[11];
    s_date(d, p->today);
    snprintf(p->month, sizeof p->month, "%.7s", d);
    return 0;
}

int kontor_seed_main(int argc, char **argv)
{
    static s_plan_t plan; //  large (ids per branch); one seed per process
    s_plan_t *p = &plan;
    memset(p, 0, sizeof *p);
    p->clients = 1000;
    p->skus = 1000;
    p->branches = 3;
    p->seed = 1;
    p->threads = 8;
    p->timeout_ms = S_CALL_MS;
    bool help = false;
    int rc = s_parse(argc, argv, p, &help);
    if (rc != 0)
        return rc;
    if (help) {
        fputs(s_help, stdout);
        return KONTOR_EXIT_OK;
    }

    memset(&s_stats, 0, sizeof s_stats);
    pthread_mutex_init(&s_stats.lock, NULL);
    kontor_t k;
    kontor_opts_t opts = {.timeout_ms = p->timeout_ms, .as = p->as};
    s_work_t work = {.plan = p, .k = &k};
    double t0 = s_now(), t_org = t0;
    if ((rc = kontor_connect(&k, &opts)) != 0)
        goto done;
    p->max_request = (size_t)k.cfg.max_msg_bytes > 2 * S_MSG_MARGIN
                         ? (size_t)k.cfg.max_msg_bytes - S_MSG_MARGIN
                         : (size_t)k.cfg.max_msg_bytes / 2;
    if ((rc = s_today(&k, p)) != 0)
        goto done;
    if (s_plan_groups(p) != 0) {
        rc = kontor_usage_error("out of memory");
        goto done;
    }
    bool tty = isatty(STDERR_FILENO);
    fprintf(stderr,
            "seed %" PRIu64 ": %" PRId64 " clients, %" PRId64 " SKUs, %" PRId64
            " branches, %d connections\n",
            p->seed, p->clients, p->skus, p->branches, p->threads);
    s_conn_t c = {k.client, p};
    if (s_seed_org(&c, p) != 0 || s_seed_warehouses(&c, p) != 0 ||
        (p->skus > 0 && s_seed_price_list(&c, p) != 0)) {
        rc = KONTOR_EXIT_REFUSED;
        goto report;
    }
    t_org = s_now();
    if (s_plan_tasks(&work) != 0) {
        rc = kontor_usage_error("out of memory");
        goto done;
    }
    pthread_t threads[S_THREADS_MAX];
    int started = 0;
    for (; started < p->threads; started++)
        if (pthread_create(&threads[started], NULL, s_worker, &work) != 0)
            break;
    if (started == 0) {
        s_error("cannot start a thread");
        rc = KONTOR_EXIT_REFUSED;
        goto report;
    }
    double last = s_now();
    while (atomic_load(&s_stats.tasks_done) < work.ntasks && !atomic_load(&s_stats.stop)) {
        s_nap_ms(tty ? 200 : 250);
        if (tty || s_now() - last >= 5.0) {
            s_progress(&work, t_org, tty, false);
            last = s_now();
        }
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    s_progress(&work, t_org, tty, true);

report:;
    double el = s_now() - t0;
    double bulk = s_now() - (work.ntasks ? t_org : t0);
    long long calls = atomic_load(&s_stats.calls);
    long long cl = atomic_load(&s_stats.clients_new) + atomic_load(&s_stats.clients_existing);
    printf("seed %" PRIu64 " in %.1f s: %" PRId64 " branches, %" PRId64 " managers, %" PRId64
           " territories, %" PRId64 " warehouses, price list %" PRId64 "\n",
           p->seed, el, p->branches, p->nmanagers, p->nterritories, p->nwarehouses,
           p->price_list_id);
    printf("  clients   %lld (%lld new, %lld there already): %lld credit checks, %lld terms, "
           "%lld contacts\n",
           cl, (long long)atomic_load(&s_stats.clients_new),
           (long long)atomic_load(&s_stats.clients_existing),
           (long long)atomic_load(&s_stats.checks), (long long)atomic_load(&s_stats.terms),
           (long long)atomic_load(&s_stats.contacts));
    printf("  catalogue %lld SKUs (%lld new) in %" PRId64 " analog groups, %lld prices, %lld "
           "stock lines in %lld receipts, %lld arrivals\n",
           (long long)(atomic_load(&s_stats.products_new) + atomic_load(&s_stats.products_updated)),
           (long long)atomic_load(&s_stats.products_new), p->ngroups,
           (long long)atomic_load(&s_stats.prices), (long long)atomic_load(&s_stats.stock_lines),
           (long long)atomic_load(&s_stats.receipts), (long long)atomic_load(&s_stats.arrivals));
    printf("  rate      %lld calls, %.0f calls/s; %.0f clients/s over %.1f s with %d "
           "connections\n",
           calls, el > 0 ? (double)calls / el : 0.0, bulk > 0 ? (double)cl / bulk : 0.0, bulk,
           p->threads);
    long long errors = atomic_load(&s_stats.errors);
    if (errors > 0) {
        fprintf(stderr, "kontor seed: %lld call%s refused%s; the first:\n", errors,
                errors == 1 ? " was" : "s were",
                atomic_load(&s_stats.stop) ? " (stopped early)" : "");
        for (int i = 0; i < s_stats.nfirst; i++)
            fprintf(stderr, "  %s\n", s_stats.first[i]);
        if (rc == 0)
            rc = atomic_load(&s_stats.unreachable) >= S_SILENT_ABORT ? KONTOR_EXIT_UNREACHABLE
                                                                     : KONTOR_EXIT_REFUSED;
    }
done:
    free(work.tasks);
    free((void *)work.window_ready);
    free(p->group);
    p->group = NULL;
    kontor_disconnect(&k);
    pthread_mutex_destroy(&s_stats.lock);
    return rc;
}
