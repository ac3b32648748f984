-- 003_reserve_event: ReserveStock in one statement, its StockChanged too.
--
-- A reservation is one statement (logistics_sql_reserve_event): lock the
-- order's stock rows in SKU order, check every line, and only if all can be
-- met insert the reservation and its lines, raise `reserved`, and write the
-- StockChanged event into the outbox. The event is the protobuf encoding
-- of logistics.StockChanged (proto/logistics.proto), made here by
-- stock_changed_pb exactly as protobuf-c packs it: fields in number order,
-- proto3 zero values left out, int64 as varints (a negative one in ten
-- bytes). tests/integration/it_bench_short.c checks it byte for byte
-- against protobuf-c. Being one statement, the reservation is one
-- transaction with one round trip instead of four (BEGIN, the reservation,
-- the outbox row, COMMIT).

-- The protobuf varint of v (two's complement for a negative v, as int64:
-- ten bytes).
CREATE FUNCTION pb_varint(v bigint) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    out bytea := '\x'::bytea;
    u numeric;
BEGIN
    IF v >= 0 THEN
        WHILE v >= 128 LOOP
            out := out || set_byte('\x00'::bytea, 0, ((v & 127) | 128)::int);
            v := v >> 7;
        END LOOP;
        RETURN out || set_byte('\x00'::bytea, 0, v::int);
    END IF;
    u := v::numeric + 18446744073709551616;
    WHILE u >= 128 LOOP
        out := out || set_byte('\x00'::bytea, 0, (mod(u, 128) + 128)::int);
        u := div(u, 128);
    END LOOP;
    RETURN out || set_byte('\x00'::bytea, 0, u::int);
END
$$;

-- logistics.StockChanged {warehouse_id = 1; repeated StockLine items = 2}
-- with StockLine {sku = 1; qty = 2}, items in array order. Its search path
-- is the schema's, so it finds pb_varint whoever calls it.
CREATE FUNCTION stock_changed_pb(p_warehouse bigint, p_skus bigint[], p_qtys bigint[])
RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SET search_path FROM CURRENT AS $$
DECLARE
    out bytea := '\x'::bytea;
    line bytea;
BEGIN
    IF p_warehouse <> 0 THEN
        out := '\x08'::bytea || pb_varint(p_warehouse);
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_skus, 1), 0) LOOP
        line := '\x'::bytea;
        IF p_skus[i] <> 0 THEN
            line := line || '\x08'::bytea || pb_varint(p_skus[i]);
        END IF;
        IF p_qtys[i] <> 0 THEN
            line := line || '\x10'::bytea || pb_varint(p_qtys[i]);
        END IF;
        out := out || '\x12'::bytea || pb_varint(length(line)) || line;
    END LOOP;
    RETURN out;
END
$$;
