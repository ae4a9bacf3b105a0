// config: the only file that includes tomlplusplus. Parses a TOML document and copies it into the
// plain C tree of toml_i.h, table members in source order, every exception caught here.
#include "toml_i.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string_view>
#include <utility>
#include <vector>

namespace
{

constexpr int max_depth = 512;

struct convert_error {
    int code;
    const char *what;
};

void set_diag(lzs_toml_diag *d, int code, uint32_t line, uint32_t column, std::string_view msg)
{
    d->code = code;
    d->line = line;
    d->column = column;
    size_t n = std::min(msg.size(), sizeof(d->msg) - 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = msg[i];
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
        if (o == 0 && c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a'); // messages are lower case
        d->msg[o++] = c;
    }
    while (o > 0 && (d->msg[o - 1] == ' ' || d->msg[o - 1] == '.'))
        o--;
    d->msg[o] = '\0';
}

char *copy_str(std::string_view s)
{
    char *p = static_cast<char *>(std::malloc(s.size() + 1));
    if (!p)
        throw std::bad_alloc();
    if (!s.empty())
        std::memcpy(p, s.data(), s.size());
    p[s.size()] = '\0';
    return p;
}

void set_pos(lzs_toml *out, const toml::source_region &src)
{
    out->line = src.begin.line;
    out->column = src.begin.column;
}

lzs_toml *alloc_items(size_t n)
{
    if (n == 0)
        return nullptr;
    auto *p = static_cast<lzs_toml *>(std::calloc(n, sizeof(lzs_toml)));
    if (!p)
        throw std::bad_alloc();
    return p;
}

void convert(const toml::node &in, lzs_toml *out, int depth);

// toml++ keeps a table's members sorted by key; the file's order is recovered from positions.
void convert_table(const toml::table &t, lzs_toml *out, int depth)
{
    std::vector<std::pair<const toml::key *, const toml::node *>> members;
    members.reserve(t.size());
    for (auto &&[k, v] : t)
        members.emplace_back(&k, &v);
    auto pos = [](const std::pair<const toml::key *, const toml::node *> &m) {
        const toml::source_region &s = m.second->source();
        const toml::source_region &ks = m.first->source();
        if (s.begin.line == 0)
            return std::make_pair(ks.begin.line, ks.begin.column);
        return std::make_pair(s.begin.line, s.begin.column);
    };
    std::stable_sort(members.begin(), members.end(),
                     [&](const auto &a, const auto &b) { return pos(a) < pos(b); });
    out->type = LZS_TOML_TABLE;
    out->items = alloc_items(members.size());
    for (const auto &m : members) {
        if (m.first->str().find('\0') != std::string_view::npos)
            throw convert_error{EINVAL, "a key contains a nul character"};
        lzs_toml *item = &out->items[out->n++];
        item->key = copy_str(m.first->str());
        item->key_line = m.first->source().begin.line;
        item->key_column = m.first->source().begin.column;
        convert(*m.second, item, depth + 1);
    }
}

void convert_array(const toml::array &a, lzs_toml *out, int depth)
{
    out->type = LZS_TOML_ARRAY;
    out->items = alloc_items(a.size());
    for (const toml::node &el : a)
        convert(el, &out->items[out->n++], depth + 1);
}

void convert(const toml::node &in, lzs_toml *out, int depth)
{
    if (depth > max_depth)
        throw convert_error{EINVAL, "document nested too deeply"};
    set_pos(out, in.source());
    switch (in.type()) {
    case toml::node_type::table:
        return convert_table(*in.as_table(), out, depth);
    case toml::node_type::array:
        return convert_array(*in.as_array(), out, depth);
    case toml::node_type::string: {
        const std::string &s = in.as_string()->get();
        out->type = LZS_TOML_STRING;
        out->str = copy_str(s);
        out->len = s.size();
        return;
    }
    case toml::node_type::integer:
        out->type = LZS_TOML_INTEGER;
        out->i = in.as_integer()->get();
        return;
    case toml::node_type::floating_point:
        out->type = LZS_TOML_FLOAT;
        out->f = in.as_floating_point()->get();
        return;
    case toml::node_type::boolean:
        out->type = LZS_TOML_BOOLEAN;
        out->b = in.as_boolean()->get();
        return;
    default:
        out->type = LZS_TOML_DATETIME;
        return;
    }
}

void free_items(lzs_toml *t)
{
    for (size_t i = 0; i < t->n; i++)
        free_items(&t->items[i]);
    std::free(t->items);
    std::free(t->key);
    std::free(t->str);
}

} // namespace

extern "C" int lzs_toml_parse_raw(lzs_toml **out, const char *data, size_t len, lzs_toml_diag *diag)
{
    *out = nullptr;
    lzs_toml *root = static_cast<lzs_toml *>(std::calloc(1, sizeof(lzs_toml)));
    if (!root) {
        set_diag(diag, ENOMEM, 0, 0, "out of memory");
        return -ENOMEM;
    }
    try {
        toml::table doc = toml::parse(std::string_view(data, len));
        convert(doc, root, 0);
        root->line = root->column = 0;
        *out = root;
        return 0;
    } catch (const toml::parse_error &e) {
        const toml::source_position &p = e.source().begin;
        set_diag(diag, EINVAL, p.line, p.column, e.description());
    } catch (const convert_error &e) {
        set_diag(diag, e.code, 0, 0, e.what);
    } catch (const std::bad_alloc &) {
        set_diag(diag, ENOMEM, 0, 0, "out of memory");
    } catch (const std::exception &e) {
        set_diag(diag, EINVAL, 0, 0, e.what());
    } catch (...) {
        set_diag(diag, EINVAL, 0, 0, "unknown toml parser failure");
    }
    lzs_toml_free(root);
    return -diag->code;
}

extern "C" void lzs_toml_free(lzs_toml *root)
{
    if (!root)
        return;
    free_items(root);
    std::free(root);
}
