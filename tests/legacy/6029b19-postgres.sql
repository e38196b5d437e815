--
-- PostgreSQL database dump
--

\restrict e5V16N2BZuFjjomUNQ8ZzWzfn9eOCwjCtqoGbUhTp1mQNYlEQNf8kJfhdXrDvao

-- Dumped from database version 15.18 (Debian 15.18-0+deb12u1)
-- Dumped by pg_dump version 15.18 (Debian 15.18-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: absences; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.absences (
    id integer NOT NULL,
    child_id character varying(64) NOT NULL,
    first_day character varying(10) NOT NULL,
    last_day character varying(10) NOT NULL,
    reason character varying(20) NOT NULL,
    document character varying(200) NOT NULL,
    replaces integer,
    recorded_at_us bigint NOT NULL,
    recorded_by character varying(200) NOT NULL
);


--
-- Name: absences_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.absences_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: absences_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.absences_id_seq OWNED BY public.absences.id;


--
-- Name: approvals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.approvals (
    id integer NOT NULL,
    kindergarten character varying(32) NOT NULL,
    month character varying(7) NOT NULL,
    revision integer NOT NULL,
    statement bytea NOT NULL,
    inputs_digest character varying(64) NOT NULL,
    total character varying(32) NOT NULL,
    approved_by character varying(64) NOT NULL,
    approved_at_us bigint NOT NULL,
    note text NOT NULL
);


--
-- Name: approvals_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.approvals_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: approvals_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.approvals_id_seq OWNED BY public.approvals.id;


--
-- Name: batches; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.batches (
    batch_hash bytea NOT NULL,
    terminal_id character varying(32) NOT NULL,
    first_seq bigint NOT NULL,
    last_seq bigint NOT NULL,
    signature bytea NOT NULL,
    received_at_us bigint NOT NULL,
    new_events integer NOT NULL
);


--
-- Name: card_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.card_keys (
    kindergarten character varying(32) NOT NULL,
    seed bytea NOT NULL,
    public bytea NOT NULL,
    created_at_us bigint NOT NULL
);


--
-- Name: cards; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.cards (
    serial character varying(8) NOT NULL,
    kindergarten character varying(32) NOT NULL,
    child_id character varying(64) NOT NULL,
    issued_on character varying(10) NOT NULL,
    expires_on character varying(10) NOT NULL,
    issued_at_us bigint NOT NULL,
    revoked_at_us bigint,
    revoked_reason text
);


--
-- Name: children; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.children (
    child_id character varying(64) NOT NULL,
    kindergarten character varying(32) NOT NULL,
    iin character varying(12) NOT NULL,
    last_name character varying(200) NOT NULL,
    first_name character varying(200) NOT NULL,
    birth_date character varying(10) NOT NULL,
    group_name character varying(100) NOT NULL,
    funding_category character varying(100) NOT NULL,
    enrolled_on character varying(10) NOT NULL,
    withdrawn_on character varying(10),
    roster_import integer NOT NULL
);


--
-- Name: closures; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.closures (
    id integer NOT NULL,
    kindergarten character varying(32) NOT NULL,
    first_day character varying(10) NOT NULL,
    last_day character varying(10) NOT NULL,
    reason text NOT NULL,
    recorded_at_us bigint NOT NULL,
    recorded_by character varying(200) NOT NULL
);


--
-- Name: closures_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.closures_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: closures_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.closures_id_seq OWNED BY public.closures.id;


--
-- Name: consent_notices; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.consent_notices (
    request_id character varying(32) NOT NULL,
    terminal_id character varying(32) NOT NULL,
    child_id character varying(64) NOT NULL,
    record_id integer,
    received_at_us bigint NOT NULL
);


--
-- Name: consent_records; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.consent_records (
    id integer NOT NULL,
    child_id character varying(64) NOT NULL,
    kindergarten character varying(32) NOT NULL,
    action character varying(10) NOT NULL,
    until character varying(10),
    source character varying(10) NOT NULL,
    paper_ref character varying(200) NOT NULL,
    guardian_id character varying(32),
    signed_text text,
    signature bytea,
    recorded_at_us bigint NOT NULL,
    recorded_by character varying(64) NOT NULL
);


--
-- Name: consent_records_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.consent_records_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: consent_records_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.consent_records_id_seq OWNED BY public.consent_records.id;


--
-- Name: equivocations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.equivocations (
    id integer NOT NULL,
    terminal_id character varying(32) NOT NULL,
    seq bigint NOT NULL,
    stored_hash bytea NOT NULL,
    offered_hash bytea NOT NULL,
    batch_raw bytea NOT NULL,
    received_at_us bigint NOT NULL
);


--
-- Name: equivocations_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.equivocations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: equivocations_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.equivocations_id_seq OWNED BY public.equivocations.id;


--
-- Name: event_time_corrections; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.event_time_corrections (
    event_id character varying(64) NOT NULL,
    kindergarten character varying(32) NOT NULL,
    corrected_at_us bigint NOT NULL,
    offset_us bigint NOT NULL,
    found_at_us bigint NOT NULL
);


--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    event_id character varying(64) NOT NULL,
    terminal_id character varying(32) NOT NULL,
    seq bigint NOT NULL,
    kindergarten character varying(32) NOT NULL,
    hash bytea NOT NULL,
    raw bytea NOT NULL,
    kind character varying(20) NOT NULL,
    method character varying(20) NOT NULL,
    assurance character varying(10) NOT NULL,
    child_id character varying(64),
    direction character varying(3),
    body_status character varying(12) NOT NULL,
    recorded_at_us bigint NOT NULL,
    boot_id bytea NOT NULL,
    mono_ns bigint NOT NULL,
    received_at_us bigint NOT NULL,
    batch_hash bytea NOT NULL,
    receipt character varying(16),
    note character varying(200)
);


--
-- Name: face_erasures; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.face_erasures (
    template_id character varying(32) NOT NULL,
    terminal_id character varying(32) NOT NULL,
    child_id character varying(64) NOT NULL,
    erased_at_us bigint NOT NULL,
    reason character varying(20) NOT NULL,
    reported_at_us bigint NOT NULL
);


--
-- Name: face_key_wraps; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.face_key_wraps (
    key_id character varying(16) NOT NULL,
    terminal_id character varying(32) NOT NULL,
    kindergarten character varying(32) NOT NULL,
    sealed bytea NOT NULL,
    wrapped_by character varying(32) NOT NULL,
    created_at_us bigint NOT NULL
);


--
-- Name: face_templates; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.face_templates (
    template_id character varying(32) NOT NULL,
    kindergarten character varying(32) NOT NULL,
    child_id character varying(64) NOT NULL,
    consent_record integer NOT NULL,
    key_id character varying(16) NOT NULL,
    blob bytea,
    blob_sha256 bytea NOT NULL,
    enrolled_by character varying(32) NOT NULL,
    uploaded_at_us bigint NOT NULL,
    erased_at_us bigint,
    erase_reason character varying(20)
);


--
-- Name: guardian_children; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.guardian_children (
    guardian_id character varying(32) NOT NULL,
    child_id character varying(64) NOT NULL,
    invitation integer NOT NULL,
    serial character varying(8) NOT NULL,
    binding bytea NOT NULL,
    bound_at_us bigint NOT NULL,
    removed_at_us bigint,
    removed_by character varying(64)
);


--
-- Name: guardian_invitations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.guardian_invitations (
    id integer NOT NULL,
    code_digest bytea NOT NULL,
    child_id character varying(64) NOT NULL,
    created_by character varying(64) NOT NULL,
    created_at_us bigint NOT NULL,
    expires_at_us bigint NOT NULL,
    used_at_us bigint,
    guardian_id character varying(32)
);


--
-- Name: guardian_invitations_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.guardian_invitations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: guardian_invitations_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.guardian_invitations_id_seq OWNED BY public.guardian_invitations.id;


--
-- Name: guardian_nonces; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.guardian_nonces (
    nonce character varying(64) NOT NULL,
    expires_at_us bigint NOT NULL,
    used_at_us bigint
);


--
-- Name: guardians; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.guardians (
    guardian_id character varying(32) NOT NULL,
    key_id character varying(16) NOT NULL,
    public_key bytea NOT NULL,
    created_at_us bigint NOT NULL,
    removed_at_us bigint
);


--
-- Name: jobs; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.jobs (
    id integer NOT NULL,
    kind character varying(40) NOT NULL,
    month character varying(7) NOT NULL,
    status character varying(12) NOT NULL,
    done integer NOT NULL,
    total integer NOT NULL,
    started_by character varying(64) NOT NULL,
    started_at_us bigint NOT NULL,
    heartbeat_us bigint NOT NULL,
    finished_at_us bigint,
    error text NOT NULL
);


--
-- Name: jobs_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.jobs_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: jobs_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.jobs_id_seq OWNED BY public.jobs.id;


--
-- Name: kindergartens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.kindergartens (
    code character varying(32) NOT NULL,
    name character varying(200) NOT NULL,
    six_day boolean NOT NULL,
    created_at_us bigint NOT NULL,
    district character varying(100) DEFAULT ''::character varying NOT NULL
);


--
-- Name: month_confirmations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.month_confirmations (
    id integer NOT NULL,
    guardian_id character varying(32) NOT NULL,
    child_id character varying(64) NOT NULL,
    kindergarten character varying(32) NOT NULL,
    month character varying(7) NOT NULL,
    kind character varying(10) NOT NULL,
    days text NOT NULL,
    comment text NOT NULL,
    recorded_at_us bigint NOT NULL
);


--
-- Name: month_confirmations_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.month_confirmations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: month_confirmations_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.month_confirmations_id_seq OWNED BY public.month_confirmations.id;


--
-- Name: month_totals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.month_totals (
    kindergarten character varying(32) NOT NULL,
    month character varying(7) NOT NULL,
    children integer NOT NULL,
    working_days integer NOT NULL,
    total character varying(32) NOT NULL,
    inputs_digest character varying(64) NOT NULL,
    policy_version character varying(40) NOT NULL,
    flags integer NOT NULL,
    computed_at_us bigint NOT NULL
);


--
-- Name: outbox; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.outbox (
    id integer NOT NULL,
    kind character varying(40) NOT NULL,
    kindergarten character varying(32) NOT NULL,
    month character varying(7) NOT NULL,
    idempotency_key character varying(128) NOT NULL,
    body bytea NOT NULL,
    signature text NOT NULL,
    created_at_us bigint NOT NULL,
    status character varying(12) NOT NULL,
    attempts integer NOT NULL,
    next_attempt_at_us bigint NOT NULL,
    claimed_until_us bigint,
    last_error text NOT NULL,
    delivered_at_us bigint,
    core_reference character varying(200)
);


--
-- Name: outbox_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.outbox_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: outbox_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.outbox_id_seq OWNED BY public.outbox.id;


--
-- Name: roster_imports; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.roster_imports (
    id integer NOT NULL,
    kindergarten character varying(32) NOT NULL,
    imported_at_us bigint NOT NULL,
    rows integer NOT NULL,
    sha256 character varying(64) NOT NULL,
    source character varying(200) NOT NULL
);


--
-- Name: roster_imports_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.roster_imports_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: roster_imports_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.roster_imports_id_seq OWNED BY public.roster_imports.id;


--
-- Name: schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.schema_migrations (
    name character varying(100) NOT NULL,
    applied_at_us bigint NOT NULL
);


--
-- Name: terminal_health; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.terminal_health (
    terminal_id character varying(32) NOT NULL,
    reported_at_us bigint NOT NULL,
    terminal_time_us bigint NOT NULL,
    skew_us bigint NOT NULL,
    pending integer NOT NULL,
    software_version character varying(40) NOT NULL,
    camera character varying(10) NOT NULL,
    storage_free_bytes bigint NOT NULL,
    checked_seq bigint NOT NULL
);


--
-- Name: terminal_tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.terminal_tokens (
    digest bytea NOT NULL,
    kindergarten character varying(32) NOT NULL,
    created_at_us bigint NOT NULL,
    expires_at_us bigint NOT NULL,
    used_at_us bigint,
    terminal_id character varying(32)
);


--
-- Name: terminals; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.terminals (
    terminal_id character varying(32) NOT NULL,
    kindergarten character varying(32) NOT NULL,
    sign_pub bytea NOT NULL,
    box_pub bytea NOT NULL,
    enrolled_at_us bigint NOT NULL,
    revoked_at_us bigint,
    revoke_reason text,
    head_seq bigint NOT NULL,
    head_hash bytea NOT NULL,
    last_contact_us bigint,
    software_version character varying(40) NOT NULL
);


--
-- Name: unlock_cards; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.unlock_cards (
    serial character varying(16) NOT NULL,
    kindergarten character varying(32) NOT NULL,
    secret bytea NOT NULL,
    issued_at_us bigint NOT NULL,
    revoked_at_us bigint,
    revoked_reason text
);


--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    username character varying(64) NOT NULL,
    password_hash character varying(200) NOT NULL,
    role character varying(20) NOT NULL,
    kindergarten character varying(32),
    created_at_us bigint NOT NULL,
    disabled_at_us bigint,
    failed_logins integer NOT NULL,
    locked_until_us bigint
);


--
-- Name: absences id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.absences ALTER COLUMN id SET DEFAULT nextval('public.absences_id_seq'::regclass);


--
-- Name: approvals id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.approvals ALTER COLUMN id SET DEFAULT nextval('public.approvals_id_seq'::regclass);


--
-- Name: closures id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.closures ALTER COLUMN id SET DEFAULT nextval('public.closures_id_seq'::regclass);


--
-- Name: consent_records id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consent_records ALTER COLUMN id SET DEFAULT nextval('public.consent_records_id_seq'::regclass);


--
-- Name: equivocations id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.equivocations ALTER COLUMN id SET DEFAULT nextval('public.equivocations_id_seq'::regclass);


--
-- Name: guardian_invitations id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardian_invitations ALTER COLUMN id SET DEFAULT nextval('public.guardian_invitations_id_seq'::regclass);


--
-- Name: jobs id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.jobs ALTER COLUMN id SET DEFAULT nextval('public.jobs_id_seq'::regclass);


--
-- Name: month_confirmations id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.month_confirmations ALTER COLUMN id SET DEFAULT nextval('public.month_confirmations_id_seq'::regclass);


--
-- Name: outbox id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox ALTER COLUMN id SET DEFAULT nextval('public.outbox_id_seq'::regclass);


--
-- Name: roster_imports id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.roster_imports ALTER COLUMN id SET DEFAULT nextval('public.roster_imports_id_seq'::regclass);


--
-- Data for Name: absences; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: approvals; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: batches; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.batches VALUES ('\xf266ba145d912e9f336e86dc2e233bd479e54996d80002f857c2aacae0074327', 'T-6JF7PSO2', 1, 3, '\xf75df10f551e5cefcab7b1c19128ce371667d44321ec7a5fc5a7920006f1895f8d9456eff11b9a647a4f3016e8cb4ffb3d030b491e7ac29fd5d898f89ac5f10c', 1796143735514188, 3);


--
-- Data for Name: card_keys; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.card_keys VALUES ('KG1', '\x18a1f530a4b55d69a49ed9c16f9d636d09efc51e92dad9efd4f819af091c78b4', '\xe57f61bebf53fd4a7b33a7ad07b3190cd673f935d5f7a42d9645a8cb3b8eb8f0', 1796143736397603);


--
-- Data for Name: cards; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.cards VALUES ('IIVABIUG', 'KG1', 'child-00003-x7q', '2026-12-01', '2028-11-30', 1796143736397603, NULL, NULL);


--
-- Data for Name: children; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.children VALUES ('child-00000-x7q', 'KG1', '200315500007', 'Testovbayev0000', 'Aruzhanka0000', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00001-x7q', 'KG1', '200315500017', 'Testovbayev0001', 'Aruzhanka0001', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00002-x7q', 'KG1', '200315500027', 'Testovbayev0002', 'Aruzhanka0002', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00003-x7q', 'KG1', '200315500037', 'Testovbayev0003', 'Aruzhanka0003', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00004-x7q', 'KG1', '200315500047', 'Testovbayev0004', 'Aruzhanka0004', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00005-x7q', 'KG1', '200315500057', 'Testovbayev0005', 'Aruzhanka0005', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00006-x7q', 'KG1', '200315500067', 'Testovbayev0006', 'Aruzhanka0006', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00007-x7q', 'KG1', '200315500077', 'Testovbayev0007', 'Aruzhanka0007', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00008-x7q', 'KG1', '200315500087', 'Testovbayev0008', 'Aruzhanka0008', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00009-x7q', 'KG1', '200315500097', 'Testovbayev0009', 'Aruzhanka0009', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00010-x7q', 'KG1', '200315500106', 'Testovbayev0010', 'Aruzhanka0010', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00011-x7q', 'KG1', '200315500116', 'Testovbayev0011', 'Aruzhanka0011', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00012-x7q', 'KG1', '200315500126', 'Testovbayev0012', 'Aruzhanka0012', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00013-x7q', 'KG1', '200315500136', 'Testovbayev0013', 'Aruzhanka0013', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00014-x7q', 'KG1', '200315500146', 'Testovbayev0014', 'Aruzhanka0014', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00015-x7q', 'KG1', '200315500156', 'Testovbayev0015', 'Aruzhanka0015', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00016-x7q', 'KG1', '200315500166', 'Testovbayev0016', 'Aruzhanka0016', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00017-x7q', 'KG1', '200315500176', 'Testovbayev0017', 'Aruzhanka0017', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00018-x7q', 'KG1', '200315500186', 'Testovbayev0018', 'Aruzhanka0018', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);
INSERT INTO public.children VALUES ('child-00019-x7q', 'KG1', '200315500196', 'Testovbayev0019', 'Aruzhanka0019', '2020-03-15', 'Group A', 'age3-full-state', '2025-09-01', NULL, 1);


--
-- Data for Name: closures; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: consent_notices; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: consent_records; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.consent_records VALUES (1, 'child-00004-x7q', 'KG1', 'grant', '2027-12-01', 'paper', 'form-4', NULL, NULL, NULL, 1796143737232039, 'director');
INSERT INTO public.consent_records VALUES (2, 'child-00005-x7q', 'KG1', 'grant', '2027-03-01', 'phone', '', 'G-aafc29edfa71cf08', 'qatys-consent-v1
grant
child-00005-x7q
KG1
2027-03-01
1796143738498', '\x1a78805beb54492eee7c602f55f14cc21a8f3ae569635b19050c0344fc35f865388ea8481205c618bb6299c5d855f6b23dcf301b0603ccdbf143ee26d314ba3f', 1796143738505448, 'G-aafc29edfa71cf08');


--
-- Data for Name: equivocations; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: event_time_corrections; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: events; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.events VALUES ('T-6JF7PSO2:1', 'T-6JF7PSO2', 1, 'KG1', '\xeb39a5926d45ab605dd22f296a428f32ba1e6e1bf69d232d1d45e104b5ca1ae8', '\xab617601637365710164626f6479587a01a5f80b87d48b1efa0e72f6638921eadaedb219d38fce392d364dc8d4d1a98612a3332d310a35fd118537a9c9c316c11421957a110343075917076fb33f19c395647763eb35686131ae715db18af71e818c7d6f711ba2dc2828d75f5eddc30ea7a39ebae5f456a1726a159d3d28ad1476785db45c7f2b096bd664626f6f745010e03c0f80b642b3990c94b1b7a51bd0646b696e64676172726976616c647072657658200000000000000000000000000000000000000000000000000000000000000000666d6574686f64666d616e75616c676d6f6e6f5f6e731b0000078af085a1be6774696d655f75731b000661954d33f2f8687465726d696e616c6a542d364a463750534f32696173737572616e6365636c6f77', 'arrival', 'manual', 'low', 'child-00000-x7q', 'in', 'ok', 1796143733535480, '\x10e03c0f80b642b3990c94b1b7a51bd0', 8293322170814, 1796143735514188, '\xf266ba145d912e9f336e86dc2e233bd479e54996d80002f857c2aacae0074327', '99N-3TK', NULL);
INSERT INTO public.events VALUES ('T-6JF7PSO2:2', 'T-6JF7PSO2', 2, 'KG1', '\x51f6f252159726d0509dfdb489b54ee9be5cbd33b0c9824dbe4a785cede70bf0', '\xab617601637365710264626f6479587a018cae751c70f080053e21565b6cbb7f819f32781ddc75ce06ec89d357106dcc0ad65a060d97ebdaab3f2524de59573894e9e4161d11fe0ec29090c39b8789a8286f6487a66571dcd3cf97486edc309beb508c5014cbbd2c2d3990c4b1189802aad485f82306f5d3a1399da826a349475c25646f3afe69967e1264626f6f745010e03c0f80b642b3990c94b1b7a51bd0646b696e64676172726976616c64707265765820eb39a5926d45ab605dd22f296a428f32ba1e6e1bf69d232d1d45e104b5ca1ae8666d6574686f64666d616e75616c676d6f6e6f5f6e731b0000078b1771f59d6774696d655f75731b000661954d3deba2687465726d696e616c6a542d364a463750534f32696173737572616e6365636c6f77', 'arrival', 'manual', 'low', 'child-00001-x7q', 'in', 'ok', 1796143734188962, '\x10e03c0f80b642b3990c94b1b7a51bd0', 8293975192989, 1796143735514188, '\xf266ba145d912e9f336e86dc2e233bd479e54996d80002f857c2aacae0074327', '8Z2-EUE', NULL);
INSERT INTO public.events VALUES ('T-6JF7PSO2:3', 'T-6JF7PSO2', 3, 'KG1', '\xd624d462a1c0b99f8cc99a5888805589e2593227688c2402772cc393d7d259d8', '\xab617601637365710364626f6479587a01e66c84852dac9106f9fdcebc2e4bc58e206ad2991000dab27cbe666ce0754957b5c11af3e945502a9a88c7a626a92be24a8cebad5ce3e0b1626fb183acd1be3e097ba5aafbfcb700481e31f76b90a0e6bbfdf600ef8dc9bb465eb2fa859ad0ec5edae347e570af8125572e8116c6938376a1682d2139c3fa4a64626f6f745010e03c0f80b642b3990c94b1b7a51bd0646b696e64676172726976616c6470726576582051f6f252159726d0509dfdb489b54ee9be5cbd33b0c9824dbe4a785cede70bf0666d6574686f64666d616e75616c676d6f6e6f5f6e731b0000078b3ee7f7366774696d655f75731b000661954d4805a2687465726d696e616c6a542d364a463750534f32696173737572616e6365636c6f77', 'arrival', 'manual', 'low', 'child-00002-x7q', 'in', 'ok', 1796143734850978, '\x10e03c0f80b642b3990c94b1b7a51bd0', 8294637238070, 1796143735514188, '\xf266ba145d912e9f336e86dc2e233bd479e54996d80002f857c2aacae0074327', 'D7P-YE3', NULL);


--
-- Data for Name: face_erasures; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: face_key_wraps; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: face_templates; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: guardian_children; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.guardian_children VALUES ('G-aafc29edfa71cf08', 'child-00005-x7q', 1, '7UZOKAWD', '\xdfe5f5146444f267e89f6bb204a277a5e34998bcbaf393e41dfeee862e720462ab7630abe0bc097b6e1ac596b10cd5c1462edd6394161e7a759ca65c383a0706', 1796143738479583, NULL, NULL);


--
-- Data for Name: guardian_invitations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.guardian_invitations VALUES (1, '\xc72d7cd7f7e87f6f0f3e419e3a9fa3bc0ec65ff61a5a6e24ad2b55a5a687652d', 'child-00005-x7q', 'director', 1796143738020931, 1796748538020931, 1796143738479583, 'G-aafc29edfa71cf08');


--
-- Data for Name: guardian_nonces; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: guardians; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.guardians VALUES ('G-aafc29edfa71cf08', '5f3b6015c4418ae6', '\x3059301306072a8648ce3d020106082a8648ce3d0301070342000462b875a5eff9db8c0f8aa4f2109b9cb764fbd19b754d81bfef30ba1932667a8a584a1f3c04894a0a6ee874af170bc0ec9bd151d45cafc6a1007eeb4d24af0e66', 1796143738479583, NULL);


--
-- Data for Name: jobs; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: kindergartens; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.kindergartens VALUES ('KG1', 'Балабақша 1', false, 1796143729633883, '');


--
-- Data for Name: month_confirmations; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: month_totals; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: outbox; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: roster_imports; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.roster_imports VALUES (1, 'KG1', 1796143730429696, 20, '6ced55799620871f1a7f3bd87976c8149f1a48dbe7551ea9a1541508ce78fc46', 'roster.csv');


--
-- Data for Name: schema_migrations; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.schema_migrations VALUES ('0001_initial', 1796143727837343);
INSERT INTO public.schema_migrations VALUES ('0002_unlock_cards', 1796143727844698);
INSERT INTO public.schema_migrations VALUES ('0003_cards', 1796143727854907);
INSERT INTO public.schema_migrations VALUES ('0004_event_receipts', 1796143727865401);
INSERT INTO public.schema_migrations VALUES ('0005_closures_absences', 1796143727875527);
INSERT INTO public.schema_migrations VALUES ('0006_queue_core_outbox', 1796143727883054);
INSERT INTO public.schema_migrations VALUES ('0007_finance_pages', 1796143727898130);
INSERT INTO public.schema_migrations VALUES ('0008_events_child_time', 1796143727912241);
INSERT INTO public.schema_migrations VALUES ('0009_guardians', 1796143727927240);
INSERT INTO public.schema_migrations VALUES ('0010_consent_and_confirmations', 1796143727938312);
INSERT INTO public.schema_migrations VALUES ('0011_terminal_health', 1796143727946130);
INSERT INTO public.schema_migrations VALUES ('0012_event_notes', 1796143727950446);
INSERT INTO public.schema_migrations VALUES ('0013_face_templates', 1796143727967498);


--
-- Data for Name: terminal_health; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.terminal_health VALUES ('T-6JF7PSO2', 1796143735625169, 1796143735621394, -3775, 0, '0.1.0', 'none', 82771599360, 3);


--
-- Data for Name: terminal_tokens; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.terminal_tokens VALUES ('\xc492cb0f53c70b3ac5d582d1c2e3af714085c2bb03e250bc6089a4ce742dfc62', 'KG1', 1796143732124784, 1796147332124784, 1796143732831166, 'T-6JF7PSO2');


--
-- Data for Name: terminals; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.terminals VALUES ('T-6JF7PSO2', 'KG1', '\x79cb522ba0038875dc8728a6c43215b37e25bef0263f3de14598ce7eccf69252', '\x40e94deb99ceb3d654e6b6a8fb49c5bb5a1029e19028ac7c8745b68cd9c93d04', 1796143732831166, NULL, NULL, 3, '\xd624d462a1c0b99f8cc99a5888805589e2593227688c2402772cc393d7d259d8', 1796143735625169, '0.1.0');


--
-- Data for Name: unlock_cards; Type: TABLE DATA; Schema: public; Owner: -
--



--
-- Data for Name: users; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.users VALUES ('finance1', 'scrypt:32768:8:1$Y34Jv5JdDsl7OGLS$77756ea6b8a3f787c95958bd5b9b5a6e9d7154a1b80c17bfbcf6335bd69b8c8ef8d08b460c85e07605add94c276ac9b51a0dee725c1b0bb8b920284df0f0c133', 'finance', NULL, 1796143731236235, NULL, 0, NULL);


--
-- Name: absences_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.absences_id_seq', 1, false);


--
-- Name: approvals_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.approvals_id_seq', 1, false);


--
-- Name: closures_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.closures_id_seq', 1, false);


--
-- Name: consent_records_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.consent_records_id_seq', 2, true);


--
-- Name: equivocations_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.equivocations_id_seq', 1, false);


--
-- Name: guardian_invitations_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.guardian_invitations_id_seq', 1, true);


--
-- Name: jobs_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.jobs_id_seq', 1, false);


--
-- Name: month_confirmations_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.month_confirmations_id_seq', 1, false);


--
-- Name: outbox_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.outbox_id_seq', 1, false);


--
-- Name: roster_imports_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.roster_imports_id_seq', 1, true);


--
-- Name: absences absences_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.absences
    ADD CONSTRAINT absences_pkey PRIMARY KEY (id);


--
-- Name: approvals approvals_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.approvals
    ADD CONSTRAINT approvals_pkey PRIMARY KEY (id);


--
-- Name: batches batches_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.batches
    ADD CONSTRAINT batches_pkey PRIMARY KEY (batch_hash);


--
-- Name: card_keys card_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.card_keys
    ADD CONSTRAINT card_keys_pkey PRIMARY KEY (kindergarten);


--
-- Name: cards cards_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cards
    ADD CONSTRAINT cards_pkey PRIMARY KEY (serial);


--
-- Name: children children_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.children
    ADD CONSTRAINT children_pkey PRIMARY KEY (child_id);


--
-- Name: closures closures_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.closures
    ADD CONSTRAINT closures_pkey PRIMARY KEY (id);


--
-- Name: consent_notices consent_notices_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consent_notices
    ADD CONSTRAINT consent_notices_pkey PRIMARY KEY (request_id);


--
-- Name: consent_records consent_records_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consent_records
    ADD CONSTRAINT consent_records_pkey PRIMARY KEY (id);


--
-- Name: equivocations equivocations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.equivocations
    ADD CONSTRAINT equivocations_pkey PRIMARY KEY (id);


--
-- Name: event_time_corrections event_time_corrections_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_time_corrections
    ADD CONSTRAINT event_time_corrections_pkey PRIMARY KEY (event_id);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (event_id);


--
-- Name: face_erasures face_erasures_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.face_erasures
    ADD CONSTRAINT face_erasures_pkey PRIMARY KEY (template_id, terminal_id);


--
-- Name: face_key_wraps face_key_wraps_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.face_key_wraps
    ADD CONSTRAINT face_key_wraps_pkey PRIMARY KEY (key_id, terminal_id);


--
-- Name: face_templates face_templates_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.face_templates
    ADD CONSTRAINT face_templates_pkey PRIMARY KEY (template_id);


--
-- Name: guardian_children guardian_children_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardian_children
    ADD CONSTRAINT guardian_children_pkey PRIMARY KEY (guardian_id, child_id);


--
-- Name: guardian_children guardian_children_serial_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardian_children
    ADD CONSTRAINT guardian_children_serial_key UNIQUE (serial);


--
-- Name: guardian_invitations guardian_invitations_code_digest_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardian_invitations
    ADD CONSTRAINT guardian_invitations_code_digest_key UNIQUE (code_digest);


--
-- Name: guardian_invitations guardian_invitations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardian_invitations
    ADD CONSTRAINT guardian_invitations_pkey PRIMARY KEY (id);


--
-- Name: guardian_nonces guardian_nonces_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardian_nonces
    ADD CONSTRAINT guardian_nonces_pkey PRIMARY KEY (nonce);


--
-- Name: guardians guardians_key_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardians
    ADD CONSTRAINT guardians_key_id_key UNIQUE (key_id);


--
-- Name: guardians guardians_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardians
    ADD CONSTRAINT guardians_pkey PRIMARY KEY (guardian_id);


--
-- Name: jobs jobs_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.jobs
    ADD CONSTRAINT jobs_pkey PRIMARY KEY (id);


--
-- Name: kindergartens kindergartens_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.kindergartens
    ADD CONSTRAINT kindergartens_pkey PRIMARY KEY (code);


--
-- Name: month_confirmations month_confirmations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.month_confirmations
    ADD CONSTRAINT month_confirmations_pkey PRIMARY KEY (id);


--
-- Name: month_totals month_totals_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.month_totals
    ADD CONSTRAINT month_totals_pkey PRIMARY KEY (kindergarten, month);


--
-- Name: outbox outbox_idempotency_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_idempotency_key_key UNIQUE (idempotency_key);


--
-- Name: outbox outbox_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);


--
-- Name: roster_imports roster_imports_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.roster_imports
    ADD CONSTRAINT roster_imports_pkey PRIMARY KEY (id);


--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (name);


--
-- Name: terminal_health terminal_health_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.terminal_health
    ADD CONSTRAINT terminal_health_pkey PRIMARY KEY (terminal_id);


--
-- Name: terminal_tokens terminal_tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.terminal_tokens
    ADD CONSTRAINT terminal_tokens_pkey PRIMARY KEY (digest);


--
-- Name: terminals terminals_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.terminals
    ADD CONSTRAINT terminals_pkey PRIMARY KEY (terminal_id);


--
-- Name: terminals terminals_sign_pub_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.terminals
    ADD CONSTRAINT terminals_sign_pub_key UNIQUE (sign_pub);


--
-- Name: unlock_cards unlock_cards_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unlock_cards
    ADD CONSTRAINT unlock_cards_pkey PRIMARY KEY (serial);


--
-- Name: approvals uq_approvals_revision; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.approvals
    ADD CONSTRAINT uq_approvals_revision UNIQUE (kindergarten, month, revision);


--
-- Name: events uq_events_terminal_seq; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT uq_events_terminal_seq UNIQUE (terminal_id, seq);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (username);


--
-- Name: ix_absences_child; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_absences_child ON public.absences USING btree (child_id);


--
-- Name: ix_cards_child; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_cards_child ON public.cards USING btree (child_id);


--
-- Name: ix_cards_kindergarten; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_cards_kindergarten ON public.cards USING btree (kindergarten);


--
-- Name: ix_children_kindergarten; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_children_kindergarten ON public.children USING btree (kindergarten);


--
-- Name: ix_closures_kindergarten; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_closures_kindergarten ON public.closures USING btree (kindergarten);


--
-- Name: ix_confirmations_month; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_confirmations_month ON public.month_confirmations USING btree (kindergarten, month);


--
-- Name: ix_consent_child; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_consent_child ON public.consent_records USING btree (child_id);


--
-- Name: ix_corrections_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_corrections_time ON public.event_time_corrections USING btree (kindergarten, corrected_at_us);


--
-- Name: ix_events_child_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_events_child_time ON public.events USING btree (child_id, recorded_at_us);


--
-- Name: ix_events_kindergarten_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_events_kindergarten_time ON public.events USING btree (kindergarten, recorded_at_us);


--
-- Name: ix_face_erasures_child; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_face_erasures_child ON public.face_erasures USING btree (child_id);


--
-- Name: ix_face_key_wraps_kindergarten; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_face_key_wraps_kindergarten ON public.face_key_wraps USING btree (kindergarten);


--
-- Name: ix_face_templates_child; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_face_templates_child ON public.face_templates USING btree (child_id);


--
-- Name: ix_face_templates_kindergarten; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_face_templates_kindergarten ON public.face_templates USING btree (kindergarten);


--
-- Name: ix_guardian_children_child; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_guardian_children_child ON public.guardian_children USING btree (child_id);


--
-- Name: ix_outbox_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_outbox_due ON public.outbox USING btree (status, next_attempt_at_us);


--
-- Name: ix_unlock_cards_kindergarten; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_unlock_cards_kindergarten ON public.unlock_cards USING btree (kindergarten);


--
-- Name: absences absences_child_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.absences
    ADD CONSTRAINT absences_child_id_fkey FOREIGN KEY (child_id) REFERENCES public.children(child_id);


--
-- Name: absences absences_replaces_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.absences
    ADD CONSTRAINT absences_replaces_fkey FOREIGN KEY (replaces) REFERENCES public.absences(id);


--
-- Name: approvals approvals_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.approvals
    ADD CONSTRAINT approvals_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- Name: card_keys card_keys_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.card_keys
    ADD CONSTRAINT card_keys_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- Name: cards cards_child_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cards
    ADD CONSTRAINT cards_child_id_fkey FOREIGN KEY (child_id) REFERENCES public.children(child_id);


--
-- Name: cards cards_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.cards
    ADD CONSTRAINT cards_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- Name: children children_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.children
    ADD CONSTRAINT children_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- Name: closures closures_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.closures
    ADD CONSTRAINT closures_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- Name: consent_notices consent_notices_terminal_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consent_notices
    ADD CONSTRAINT consent_notices_terminal_id_fkey FOREIGN KEY (terminal_id) REFERENCES public.terminals(terminal_id);


--
-- Name: consent_records consent_records_child_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consent_records
    ADD CONSTRAINT consent_records_child_id_fkey FOREIGN KEY (child_id) REFERENCES public.children(child_id);


--
-- Name: consent_records consent_records_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.consent_records
    ADD CONSTRAINT consent_records_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- Name: event_time_corrections event_time_corrections_event_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_time_corrections
    ADD CONSTRAINT event_time_corrections_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events(event_id);


--
-- Name: events events_terminal_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_terminal_id_fkey FOREIGN KEY (terminal_id) REFERENCES public.terminals(terminal_id);


--
-- Name: face_erasures face_erasures_template_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.face_erasures
    ADD CONSTRAINT face_erasures_template_id_fkey FOREIGN KEY (template_id) REFERENCES public.face_templates(template_id);


--
-- Name: face_erasures face_erasures_terminal_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.face_erasures
    ADD CONSTRAINT face_erasures_terminal_id_fkey FOREIGN KEY (terminal_id) REFERENCES public.terminals(terminal_id);


--
-- Name: face_key_wraps face_key_wraps_terminal_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.face_key_wraps
    ADD CONSTRAINT face_key_wraps_terminal_id_fkey FOREIGN KEY (terminal_id) REFERENCES public.terminals(terminal_id);


--
-- Name: face_templates face_templates_child_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.face_templates
    ADD CONSTRAINT face_templates_child_id_fkey FOREIGN KEY (child_id) REFERENCES public.children(child_id);


--
-- Name: face_templates face_templates_consent_record_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.face_templates
    ADD CONSTRAINT face_templates_consent_record_fkey FOREIGN KEY (consent_record) REFERENCES public.consent_records(id);


--
-- Name: face_templates face_templates_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.face_templates
    ADD CONSTRAINT face_templates_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- Name: guardian_children guardian_children_child_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardian_children
    ADD CONSTRAINT guardian_children_child_id_fkey FOREIGN KEY (child_id) REFERENCES public.children(child_id);


--
-- Name: guardian_children guardian_children_guardian_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardian_children
    ADD CONSTRAINT guardian_children_guardian_id_fkey FOREIGN KEY (guardian_id) REFERENCES public.guardians(guardian_id);


--
-- Name: guardian_children guardian_children_invitation_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardian_children
    ADD CONSTRAINT guardian_children_invitation_fkey FOREIGN KEY (invitation) REFERENCES public.guardian_invitations(id);


--
-- Name: guardian_invitations guardian_invitations_child_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.guardian_invitations
    ADD CONSTRAINT guardian_invitations_child_id_fkey FOREIGN KEY (child_id) REFERENCES public.children(child_id);


--
-- Name: month_confirmations month_confirmations_child_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.month_confirmations
    ADD CONSTRAINT month_confirmations_child_id_fkey FOREIGN KEY (child_id) REFERENCES public.children(child_id);


--
-- Name: month_confirmations month_confirmations_guardian_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.month_confirmations
    ADD CONSTRAINT month_confirmations_guardian_id_fkey FOREIGN KEY (guardian_id) REFERENCES public.guardians(guardian_id);


--
-- Name: month_totals month_totals_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.month_totals
    ADD CONSTRAINT month_totals_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- Name: roster_imports roster_imports_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.roster_imports
    ADD CONSTRAINT roster_imports_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- Name: terminal_health terminal_health_terminal_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.terminal_health
    ADD CONSTRAINT terminal_health_terminal_id_fkey FOREIGN KEY (terminal_id) REFERENCES public.terminals(terminal_id);


--
-- Name: terminal_tokens terminal_tokens_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.terminal_tokens
    ADD CONSTRAINT terminal_tokens_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- Name: terminals terminals_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.terminals
    ADD CONSTRAINT terminals_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- Name: unlock_cards unlock_cards_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.unlock_cards
    ADD CONSTRAINT unlock_cards_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- Name: users users_kindergarten_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_kindergarten_fkey FOREIGN KEY (kindergarten) REFERENCES public.kindergartens(code);


--
-- PostgreSQL database dump complete
--

\unrestrict e5V16N2BZuFjjomUNQ8ZzWzfn9eOCwjCtqoGbUhTp1mQNYlEQNf8kJfhdXrDvao

