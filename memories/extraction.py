"""Built-in, rule-based fact extraction for ``add(messages, infer=True)`` (no LLM).

Mem0 turns a conversation into a handful of clean, self-contained facts with an LLM. This module is
the deterministic fallback: it splits user messages into sentences and clauses, keeps the clauses
that state something about the user (preferences, plans, relations, biography, possessions, habits,
corrections, health), rewrites them in the third person ("I love X" -> "User loves X"), resolves
simple relative dates against the observation time and drops everything else (greetings, questions,
requests to the assistant, filler, statements about the world).

Pure functions over plain data: no Django, no ORM, stdlib only. Every regex is compiled at import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from memories.attachments import Attachment, is_media_part, parse_part

__all__ = ["KINDS", "Fact", "Message", "extract_facts", "normalize_messages"]

KINDS = ("preference", "plan", "relation", "biography", "possession", "habit", "correction", "other")


@dataclass(frozen=True)
class Message:
    role: str  # "user" | "assistant" | "system" | other
    content: str
    name: str | None = None
    # Image and document parts, as references (memories.attachments); their text is not in ``content``.
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Fact:
    text: str  # self-contained third-person fact, e.g. "User loves working with Python and AI"
    role: str  # role of the message it came from
    kind: str  # one of KINDS
    negated: bool = False  # "I don't like coffee any more" -> True
    # Positions (in the add's messages) of the message(s) that said it: a fact said twice, or
    # corrected by a later message ("No, I meant Lisbon"), has several.
    sources: tuple[int, ...] = field(default=(), compare=False)


# --------------------------------------------------------------------------------------------------
# Message normalization


def normalize_messages(messages: Any) -> list[Message]:
    """Mem0's accepted message shapes -> a list of Message.

    A str is one user message, a dict ``{"role", "content"[, "name"]}`` is one message, a list (or
    tuple) may mix both. Content may be a str, one part, or OpenAI-style parts ``[{"type": "text",
    "text": ...}, {"type": "image_url", "image_url": {"url": ...}}]``: text parts are joined with
    newlines; image and document parts (``memories.attachments.PART_TYPES``) become the message's
    ``attachments``, captioned by their own caption or else by the message's text; other part types
    (audio, ...) are skipped. Anything else raises ValueError naming the offending item.
    """
    if isinstance(messages, str | dict | Message):
        return [_normalize_one(messages, "messages")]
    if isinstance(messages, list | tuple):
        return [_normalize_one(item, f"messages[{index}]") for index, item in enumerate(messages)]
    raise ValueError(f"messages must be a string, a message dict or a list of them, got {_type_name(messages)}")


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _normalize_one(item: Any, where: str) -> Message:
    if isinstance(item, Message):
        return item
    if isinstance(item, str):
        return Message(role="user", content=item)
    if not isinstance(item, dict):
        raise ValueError(f"{where} must be a string or a dict with 'role' and 'content', got {_type_name(item)}")
    if "role" not in item:
        raise ValueError(f"{where} is missing 'role'")
    role = item["role"]
    if not isinstance(role, str):
        raise ValueError(f"{where}.role must be a string, got {_type_name(role)}")
    if not role.strip():
        raise ValueError(f"{where}.role must not be empty")
    if "content" not in item:
        raise ValueError(f"{where} is missing 'content'")
    content, attachments = _normalize_content(item["content"], f"{where}.content")
    name = item.get("name")
    if name is not None and not isinstance(name, str):
        raise ValueError(f"{where}.name must be a string or null, got {_type_name(name)}")
    return Message(role=role.strip().lower(), content=content, name=name, attachments=attachments)


def _normalize_content(content: Any, where: str) -> tuple[str, tuple[Attachment, ...]]:
    if isinstance(content, str):
        return content, ()
    if isinstance(content, dict) and "type" in content:  # one part: {"type": "image_url", ...}
        return _normalize_parts([content], where, single=True)
    if isinstance(content, list | tuple):
        return _normalize_parts(content, where, single=False)
    raise ValueError(f"{where} must be a string, a content part or a list of parts, got {_type_name(content)}")


def _normalize_parts(parts: Sequence[Any], where: str, *, single: bool) -> tuple[str, tuple[Attachment, ...]]:
    texts, attachments = [], []
    for index, part in enumerate(parts):
        at = where if single else f"{where}[{index}]"
        if isinstance(part, str):
            texts.append(part)
            continue
        if not isinstance(part, dict):
            raise ValueError(f"{at} must be a dict like {{'type': 'text', 'text': ...}}")
        if is_media_part(part):
            attachments.append(parse_part(part, at))
            continue
        if part.get("type", "text") != "text":
            continue  # audio and other parts: nothing to extract from, nothing to refer to
        text = part.get("text")
        if not isinstance(text, str):
            raise ValueError(f"{at}.text must be a string, got {_type_name(text)}")
        texts.append(text)
    text = "\n".join(texts)
    return text, tuple(attachment.with_caption(text) for attachment in attachments)


# --------------------------------------------------------------------------------------------------
# Word lists

_ADVERBS = frozenset(
    """really also usually always often sometimes never still just actually absolutely totally definitely mostly
    generally normally typically rarely seldom only even already recently currently now probably certainly truly
    honestly personally mainly frequently occasionally regularly hardly barely finally originally basically
    literally seriously simply particularly especially secretly kinda sorta all both too soon once ever later then
    again almost nearly rather quite pretty no longer much""".split()
)
_LY_VERBS = frozenset("apply reply supply rely comply multiply imply ally bully rally tally sully".split())
_MODALS = frozenset("can could will would shall should may might must cannot ought used".split())
_AUX_3SG = {"am": "is", "are": "is", "is": "is", "was": "was", "were": "was", "have": "has", "has": "has", "do": "does"}
_AUX_PLURAL = {"am": "are", "was": "were", "is": "are", "has": "have", "does": "do"}
_PAST = frozenset(
    """went was were had did got made took came saw met ate drank bought sold brought thought taught caught fought
    sought found left felt kept slept swept wept spent sent lent bent built meant heard said paid laid told became
    began broke chose drove rode wrote rose spoke stole woke froze fell forgot gave grew knew threw flew drew blew
    ran sang rang swam sank stood understood won wore tore swore lost shot lit led fed fled sat spun stuck struck
    hung dug held hid bit quit slid shook forgave overcame undertook mistook misunderstood withdrew arose dealt
    dreamt learnt burnt spelt spilt smelt knelt leapt been gone done seen eaten taken given known forgotten""".split()
)
_AMBIGUOUS_PAST = frozenset("read put set cut hit let hurt shut spread cost bet cast split burst".split())
_ED_BASE = frozenset("need feed bleed breed speed proceed exceed succeed seed heed embed shed wed weed".split())
_PREFERENCE_VERBS = frozenset("love like enjoy prefer hate dislike adore detest miss want need crave".split())
_VERB_BASE = frozenset(
    """live work love like enjoy prefer hate dislike adore want need have go play watch read write study teach cook
    bake eat drink run walk swim travel visit speak know own use drive ride listen sing dance make take get give help
    try start stop keep spend buy sell build grow meet see feel think believe hope wish miss practice practise train
    exercise lift hike cycle climb hunt clean wash sleep wake rent pay save invest earn manage lead raise care
    volunteer attend commute stay move leave join collect smoke meditate pray knit sew develop tutor coach mentor
    follow fly sail jog learn understand remember forget trust owe belong avoid wear carry do answer reply respond
    explain speak use keep call text email send share remind tell show write talk""".split()
)
_RELATIONS = (
    r"mother|mom|mum|mommy|father|dad|daddy|parents?|sisters?|brothers?|siblings?|wife|husband|partner|spouse|"
    r"boyfriend|girlfriend|fianc[eé]e?|sons?|daughters?|kids?|children|child|bab(?:y|ies)|twins?|"
    r"grand(?:ma|mother|pa|father|parents?|son|daughter|children|kids?)|aunts?|uncles?|cousins?|nieces?|nephews?|"
    r"(?:best )?friends?|colleagues?|co-?workers?|boss|manager|roommates?|flatmates?|neighbou?rs?|family|in-laws|"
    r"step(?:mother|father|mom|dad|sister|brother|son|daughter)s?|(?:mother|father|sister|brother)-in-law"
)
_DEMONYMS = frozenset(
    """american german mexican korean cuban african european canadian australian brazilian italian indian russian
    ukrainian egyptian nigerian argentinian colombian peruvian chilean venezuelan belgian austrian hungarian romanian
    norwegian iranian syrian asian dominican haitian jamaican kenyan ghanaian ethiopian moroccan algerian tunisian
    thai greek french dutch swiss czech welsh christian muslim jewish catholic buddhist hindu sikh atheist
    agnostic""".split()
)
_FUNCTION_WORDS = frozenset(
    """it that this them those these so too one ones out up about of a an the lot lots much very really well now then
    there here again yet anymore more though thanks thank you to as for all some way sure yes no okay ok what thing
    things stuff back in on at with either neither also just please going doing done trying try do get got gotten
    make made check think see look take give say said it's that's soon later today tonight tomorrow
    yesterday""".split()
)
_TRANSIENT = (
    r"tired|exhausted|hungry|starving|thirsty|bored|busy|sleepy|fine|good|ok|okay|great|well|alright|all right|"
    r"sorry|back|here|done|ready|curious|sure|not sure|confused|lost|stuck|late|glad|happy|sad|excited|interested|"
    r"listening|thinking|wondering|kidding|joking|serious|awake|home|in|out|on my way|cold|hot|free|available|"
    r"online|offline|(?:fine|good|great|ok|okay|well|alright),? thanks?(?: you)?|impressed|surprised|grateful|thankful"
)
_REQUEST_NOUNS = (
    r"recipes?|recommendations?|suggestions?|ideas?|help|advice|tips?|information|info|lists?|summary|summaries|"
    r"explanations?|examples?|answers?|assistance|guidance|overview|hand|reminders?|translations?|quotes?"
)
_IMPERATIVES = frozenset(
    """please tell give show help find recommend suggest write make explain remind list book send let get create
    generate summarize summarise translate check search look set add remove delete update schedule describe compare
    calculate draft fix teach convert order open read share provide name define say note remember keep call email
    text pick choose take bring stop start try use ask answer turn thank thanks sorry excuse pardon imagine consider
    plan buy go do don't dont never hi hello hey""".split()
)
_NON_SUBJECT_STARTS = frozenset(
    """that this these those here there he she they we you it what how why where when who whom whose which can could
    would will do does did is are was were should shall may might have has had am if because since although though
    while after before until unless as once so and but or also then ok okay yes no not""".split()
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = "January February March April May June July August September October November December".split()
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "couple of": 2,
}  # fmt: skip
# Verbs that are a habit on their own, without an object ("I smoke", "I no longer meditate").
_HABIT_VERBS = frozenset(
    """smoke vape drink run jog swim meditate cook bake knit sew paint draw dance sing hike cycle bike surf ski
    climb pray volunteer garden fish hunt skate box row sail golf""".split()
)
_KEYWORD_STOP = frozenset("and or the a an of about to in on for with user users my related topic topics any".split())

# --------------------------------------------------------------------------------------------------
# Compiled patterns

_TRANSLATE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"', "\xa0": " "})
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d]+")
_LOWER_I = re.compile(r"(?<![\w'.-])i(?=(?:'(?:m|ve|d|ll))?(?![\w'.]))")
_IM = re.compile(r"\b[Ii]m\b")
_I_CONTRACTION = re.compile(r"\bI'(m|ve|ll|d)\b(?=(\s+\w+)?)", re.IGNORECASE)
_WE_CONTRACTION = re.compile(r"\b([Ww]e)'(re|ve|ll|d)\b")
_YOU_CONTRACTION = re.compile(r"\b([Yy]ou)'(re|ve|ll|d)\b")
_NEG_CONTRACTION = re.compile(r"\b(\w+)n't\b", re.IGNORECASE)
_SLANG = {
    "gonna": "going to", "wanna": "want to", "gotta": "have to", "dont": "do not", "doesnt": "does not",
    "didnt": "did not", "cant": "cannot", "wont": "will not", "isnt": "is not", "arent": "are not",
    "wasnt": "was not", "werent": "were not", "havent": "have not", "hasnt": "has not", "wouldnt": "would not",
    "couldnt": "could not", "shouldnt": "should not",
}  # fmt: skip
_SLANG_RE = re.compile(r"\b(" + "|".join(_SLANG) + r")\b", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BOUNDARY = re.compile(r"\n+|[.!?;\u2026]+(?=[\s\"')\]]|$)|\s[\u2013\u2014-]+(?=\s)")
_ABBREVIATIONS = frozenset("mr mrs ms dr prof st jr sr vs etc e.g i.e approx mt ft".split())
_LAST_WORD = re.compile(r"([\w.]+)$")
_TRAILING_NOISE = re.compile(
    r"(?:\s*(?:[:;=]-?[)(DPp/\\|]|<3|\bx[dD]\b|\^_\^|\b(?:lol|lmao|rofl|haha+|hehe+)\b))+\s*([.!?]*)\s*$", re.IGNORECASE
)
_TRAILING_PUNCT = re.compile(r"[\s.!?;:,\u2026\"'-]+$")
_LEADING_PUNCT = re.compile(r"^[\s,;:.\-\u2013\u2014\"'(]+")

_SUBJECT_AHEAD = r"(?=(?:I|[Mm]y|[Mm]e and)\b)"
_LEAD_MARKER = re.compile(
    r"^(?:(?P<corr>actually|correction|wait|oops|scratch that)"
    r"|(?:oh my (?:god|gosh|goodness)|omg"
    r"|(?:hi|hello|hey|hiya|howdy|yo|greetings|good (?:morning|afternoon|evening|day))"
    r"(?:\s+(?:there|again|everyone|all|guys|folks|friend|buddy|mate|\w+))?"
    r"|ok(?:ay)?|so|well|oh|ah|um+|uh+|hmm+|yeah|yes|yep|yup|no|nope|sure|alright|right|great|cool|nice|awesome|"
    r"perfect|also|anyway|anyways|btw|by the way|and|but|plus|honestly|basically|fyi|for your information|ps|"
    r"just so you know|for context|for the record|to be honest|tbh|in fact|fun fact|lol|haha+|thanks|thank you|"
    r"sorry|one more thing|another thing))"
    r"(?:\s*[,:!.\-\u2013\u2014]+\s*|\s+" + _SUBJECT_AHEAD + ")",
    re.IGNORECASE,
)
_I_MEANT = re.compile(r"^I (?:meant|mean)(?: to say)?(?: that)?(?:\s*[,:]\s*|\s+)", re.IGNORECASE)
_WRAPPER = re.compile(
    r"^(?:please\s+)?(?:remember|note|keep in mind|do not forget|be aware|you should know|just so you know|"
    r"for your information|for the record)(?:\s+that)?\s*[,:]?\s+",
    re.IGNORECASE,
)
_THANKS = re.compile(r"^(?:thanks|thank you|thx|ty|cheers|bye|goodbye|see you)\b", re.IGNORECASE)
_CALL_ME = re.compile(r"^(?i:you can |you may |please )?(?i:call) me (?P<name>[A-Z][\w'-]*(?: [A-Z][\w'-]*)?)$")
_I_AM_NAME = re.compile(r"^I am (?P<name>[A-Z][a-z'-]+(?: [A-Z][a-z'-]+)?)$")
_SUBORDINATE = re.compile(
    r"^(?P<conj>(?i:when|whenever|after|before|since|because|as soon as|once|while|although|though|if|"
    r"every time|until))\s+(?P<sub>[^,]+?)\s*,\s*(?P<main>(?:I|[Mm]y)\b.+)$"
)
_TIME_WORDS = (
    r"yesterday|today|tonight|tomorrow|this (?:morning|afternoon|evening|week|weekend|month|year)|"
    r"(?:last|next) (?:night|week|weekend|month|year|summer|winter|spring|fall|autumn|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"on (?:mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|saturdays?|sundays?|weekends|weekdays)|"
    r"(?:every|each) (?:day|morning|evening|night|week|weekend|month|year|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)|"
    r"in (?:\d{4}|(?:january|february|march|april|may|june|july|august|september|october|november|december)"
    r"(?: \d{4})?|the (?:morning|evening|afternoon|summer|winter|spring|fall|autumn)|"
    r"(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d+) (?:days?|weeks?|months?|years?))|"
    r"(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d+) (?:days?|weeks?|months?|years?) ago|"
    r"since \d{4}|recently|lately|nowadays|these days|currently|now|right now|at the moment|at work|at home|"
    r"on weekends|during the week|most (?:days|mornings|evenings|nights|weekends)|"
    r"for (?:\w+) (?:years|months|weeks|days)"
)
_LEAD_TIME = re.compile(r"^(?P<adv>(?i:" + _TIME_WORDS + r"))\s*,?\s+" + _SUBJECT_AHEAD)
_LEAD_FREQUENCY = re.compile(
    r"^(?P<adv>(?i:usually|always|often|sometimes|normally|generally|typically|occasionally|rarely|never))"
    r"\s*,?\s+I\s+"
)
_QUESTION_START = re.compile(
    r"^(?:(?:what|how|why|who|whom|whose|which)\b"
    r"|(?:when|where)(?:'s|\s+(?:is|are|was|were|do|does|did|can|could|would|should|will|shall|have|has)\b)"
    r"|(?:can|could|would|will|do|does|did|is|are|was|were|should|shall|may|might|have|has|had|am)\s+"
    r"(?:you|I|we|it|there|they|he|she|this|that|my|your|the|a|an|any|someone|anyone)\b"
    r"|(?:any|got any) (?:ideas|suggestions|recommendations|tips)\b)",
    re.IGNORECASE,
)
_SPLIT_CANDIDATE = re.compile(r",?\s+(?:and|but|plus|so|and then|and also|but also)\s+|,\s+")
_PRONOUN_SUBJECT = re.compile(r"^(?:he|she|they|we|it|you|He|She|They|We|It|You)\s+\w")
_POSSESSIVE_SUBJECT = re.compile(r"^(?:[Mm]y|[Hh]is|[Hh]er|[Tt]heir|[Oo]ur)\s+(?P<words>[\w'-]+(?:\s+[\w'-]+){0,4})")
_NAME_SUBJECT = re.compile(r"^[A-Z][\w'-]+\s+(?P<verb>[\w']+)")
_COMPOUND_LEFT = re.compile(r"^(?:(?:[Mm]y\s+)?[\w'-]+(?:\s+[A-Z][\w'-]+)?|[A-Z][\w'-]+)$")
_COMPOUND = re.compile(
    r"^(?:(?:[Mm]e|I) and (?P<a>(?:[Mm]y )?[\w'-]+(?: [A-Z][\w'-]+)?)"
    r"|(?P<b>(?:[Mm]y )?[\w'-]+(?: [A-Z][\w'-]+)?) and (?:I|me))(?=\s+\w)"
)
_POSSESSIVE_START = re.compile(r"^[Mm]y\s+\w")
_MY_PHATIC = re.compile(
    r"^my (?:question|point|bad|pleasure|apologies|guess|answer|request|reply|response|thoughts|take|two cents|"
    r"goodness|god|gosh)\b",
    re.IGNORECASE,
)
_PHATIC_I = re.compile(
    r"^I (?:do not know|am not sure|have no idea|have (?:a|another|one more|some|a few|a quick) questions?|"
    r"was wondering|wonder|am wondering|am (?:just )?curious|was (?:just )?curious|got it|get it|see what you mean|"
    r"understand|appreciate|agree|disagree|guess so|think so|hope so|suppose so|believe so|mean it|am asking|"
    r"was (?:just )?asking|was (?:just )?kidding|was (?:just )?joking|am (?:just )?kidding|am (?:just )?joking|"
    r"am (?:just )?testing|was (?:just )?testing|have to go|need to go|must go|gotta go|will be back|"
    r"will be honest|have to (?:say|admit)|must (?:say|admit)|can imagine|cannot imagine|bet|know right|"
    r"cannot wait|can not wait|totally agree|feel you|hear you|feel the same)\b",
    re.IGNORECASE,
)
_STANDING = re.compile(r"\b(?:always|never|from now on|in (?:the )?future|going forward|every time|each time)\b", re.I)
_REQUEST_TO_KNOW = re.compile(
    r"^I (?:would like|would love|want|need|wish|am trying|was hoping|am hoping|hope) "
    r"(?:to (?:know|ask|find out|check|understand|learn about|hear about|see if|get (?:some|a|an)\b)|you\b|for you\b)"
    r"|^I would like to (?:book|order|reserve|buy)\b",
    re.IGNORECASE,
)
_REQUEST_THING = re.compile(
    r"^I (?:would like|would love|want|need|am looking for|was looking for|could use|would appreciate)\s+"
    r"(?:(?:a|an|some|more|a few|few|your|the|any)\s+)?(?:[\w'-]+\s+){0,2}?(?:" + _REQUEST_NOUNS + r")\b",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"^I (?:think|guess|believe|suppose|reckon|bet|assume|doubt|imagine|wonder|hope(?! to\b)|"
    r"(?:feel|know|heard|read|learned|noticed|realized|realised|saw) that)\b(?P<rest>.*)$",
    re.IGNORECASE,
)
_SPEAKER_IN_REST = re.compile(r"\b(?:I|my|me|mine|myself)\b")
_TRANSIENT_RE = re.compile(
    r"^I (?:am|was|feel|am feeling|was feeling)(?: not)?(?: (?:so|very|really|a bit|a little|pretty|quite|kind of|"
    r"just|super|too|all|extremely|totally|completely))*\s+(?:" + _TRANSIENT + r")"
    r"(?:\s+(?:too|now|today|right now|though|again|at the moment|as well|then))*$",
    re.IGNORECASE,
)
_AGENT_PHATIC = re.compile(
    r"^I (?:recommend|suggest|think|hope|understand|see|apologize|apologise|believe|guess|appreciate|hear|"
    r"am (?:sorry|glad|happy|here|afraid|delighted|excited)|would be (?:happy|glad|delighted)|"
    r"(?:can|could|will|would) (?:certainly |definitely |also |gladly )?(?:help|assist|try|look|check|suggest|"
    r"recommend)|hope|would recommend|would suggest)\b",
    re.IGNORECASE,
)
_CORRECTION_PAIR = re.compile(r"^(?P<new>.+?),?\s+(?:not|instead of|rather than)\s+(?P<old>[^,]+?)$", re.I)
_CORRECTION_FILLER = re.compile(r"^(?:it is|it was|that is|that was|it's|that's|I meant|I mean)\s+", re.I)
_NOT_TAIL = re.compile(r",?\s+(?:not|instead of|rather than)\s+(?P<old>[^,]+)$")
_PAST_HINT = re.compile(
    r"\b(?:yesterday|ago|last (?:night|week|weekend|month|year)|when I was|used to)\b|\bin (?:19|20)\d\d\b", re.I
)
_PLACE = re.compile(r"\b(?P<prep>to|in|at|visit|visiting|visited)\s+(?P<place>[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+){0,3})")
_NOT_PLACES = frozenset((*_WEEKDAYS, *(month.lower() for month in _MONTHS), "i", "user", "assistant", "my"))
_MOTION_VERBS = frozenset(
    """go goes going went gone move moves moving moved fly flies flying flew travel travels traveling travelling
    traveled travelled been come comes coming came get gets getting got drive drives driving drove head heads
    heading headed return returns returning returned walk walks walking walked""".split()
)
_THERE = re.compile(r"\b(?P<verb>[\w']+)(?P<gap>\s+)there\b")
_TOKEN = re.compile(r"\w+(?:['-]\w+)*|\s+|[^\w\s]")
_WORD = re.compile(r"[\w'-]+")

_MONTH_ALTERNATIVES = "|".join(month.lower() for month in _MONTHS)
_SEASON_START = {"spring": 3, "summer": 6, "fall": 9, "autumn": 9, "winter": 12}
_NUM = r"\d+|a couple of|couple of|an|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
_WD = "|".join(_WEEKDAYS)
_DATE = re.compile(
    r"\b(?:(?P<prep>since|until|till|by|from|before|after|starting|through)\s+)?"
    r"(?:(?P<dby>(?:the\s+)?day\s+before\s+yesterday)"
    r"|(?P<dat>(?:the\s+)?day\s+after\s+tomorrow)"
    r"|(?P<prel>yesterday|tomorrow|this)\s+(?P<part>morning|afternoon|evening|night)"
    r"|(?P<lastnight>last\s+night)|(?P<tonight>tonight)"
    r"|(?P<simple>yesterday|today|tomorrow)"
    r"|(?P<rel>last|next|this|coming)\s+(?P<unit>week|weekend|month|year)"
    r"|(?P<srel>last|next|this|coming)\s+(?P<season>spring|summer|fall|autumn|winter|" + _MONTH_ALTERNATIVES + r")"
    r"|(?:on\s+)?(?:(?P<wrel>last|next|this|coming)\s+)?(?P<wd>" + _WD + r")(?!s)"
    r"|in\s+(?P<in_n>" + _NUM + r")\s+(?P<in_u>days?|weeks?|months?|years?)"
    r"|(?P<ago_n>" + _NUM + r")\s+(?P<ago_u>days?|weeks?|months?|years?)\s+ago)\b",
    re.IGNORECASE,
)
_EVERY_BEFORE = re.compile(r"\b(?:every|each)\s+$", re.IGNORECASE)

_KIND_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "plan",
        re.compile(r"\bwould (?:like|love) to\b(?! be called)"),
    ),
    (
        "preference",
        re.compile(
            r"\b(?:lov(?:e|es|ed|ing)|likes?|liked|enjoys?|enjoyed|prefers?|preferred|hates?|hated|dislikes?|"
            r"disliked|adores?|detests?|favou?rites?|fan of|cannot stand|is into|are into|passionate about|"
            r"fond of|obsessed with|craves?|wants the assistant|prefers to be called|vegetarian|vegan|"
            r"(?:does not|do not|cannot|no longer|will not) (?:eat|drink)s?|"
            r"pescatarian|gluten-free|lactose-free|dairy-free|kosher|halal|keto|paleo|teetotal|sober)\b"
        ),
    ),
    (
        "habit",
        re.compile(
            r"\b(?:usually|always|often|normally|typically|generally|regularly|sometimes|frequently|rarely|seldom|"
            r"never \w+s|every (?:day|morning|evening|night|week|weekend|month|year|" + _WD + r")|"
            r"each (?:day|morning|evening|night|week)|daily|weekly|nightly|"
            r"on (?:mondays|tuesdays|wednesdays|thursdays|fridays|saturdays|sundays|weekends|weekdays)|"
            r"most (?:days|mornings|evenings|nights|weekends)|tends? to|habit|routine|times a (?:day|week|month))\b"
        ),
    ),
    (
        "plan",
        re.compile(
            r"\b(?:will|going to|planning|plans? to|intends? to|hopes? to|wants? to|about to|scheduled|trying to|goal|"
            r"thinking (?:about|of) \w+ing|looking forward|upcoming|appointment|"
            r"(?:is|are) (?:flying|travel+ing|going|moving|leaving|visiting|starting|meeting|getting married|"
            r"heading|coming))\b"
        ),
    ),
    (
        "relation",
        re.compile(
            r"\b(?:(?:their|its|user's|assistant's|has an?|has \w+|have an?|have \w+)\s+(?:\w+\s+)?(?:"
            + _RELATIONS
            + r")\b|married|engaged|divorced|dating|widowed|single mom|single dad)"
        ),
    ),
    (
        "biography",
        re.compile(
            r"(?:\bname is|years old|\bborn\b|\bage\b|\blive[sd]?\b|\bliving\b|grew up|\bmoved\b|"
            r"\bfrom\b|\bworks?\b|\bworked\b|\bworking\b|\bjob\b|profession|career|\bstud(?:y|ies|ied|ying)\b|"
            r"\bstudent\b|graduated|degree|university|college|\bschool\b|retired|\bspeaks?\b|native|nationality|"
            r"allerg|intoleran|diabet|asthma|celiac|coeliac|pregnant|condition|diagnosed|medication|blood type|"
            r"\bheight\b|\btall\b|\bweighs?\b|disabilit|birthday|\bphd\b|\bemail\b|phone number|\baddress\b|"
            r"master's|bachelor|diploma|"
            r"^(?:user|assistant) is (?:an? |\d))"
        ),
    ),
    (
        "possession",
        re.compile(
            r"^(?:user|assistant)(?: and their [\w' -]+?)? (?:(?:just|recently|also|finally|already|still|\w+ly) )*"
            r"(?:has|have|owns?|owned|bought|purchased|got|has got|adopted|rents?|inherited)\b(?! (?:\w+ )?been\b)"
            r"|\b(?:their|user's) (?:dog|cat|car|house|apartment|flat|bike|pet|home)\b"
        ),
    ),
)
_OWNED_SUBJECT = re.compile(
    r"^(?:user|assistant)'s (?:\w+ )?(?:(?P<relation>" + _RELATIONS + r")|dog|dogs|cat|cats|pets?|car|house|"
    r"apartment|flat|bike|puppy|kitten|horse|parrot|fish|hamster|rabbit)\b"
)
# Rule tables for the subjects and pointers of a clause (data: edit these, not the code below).
# "Quick heads up: I'm allergic to shellfish", "Big news - we got engaged": a short lead-in before a
# colon or a dash, followed by a subject.
_LEAD_IN = re.compile(
    r"^(?:[\w'-]+\s+){0,3}[\w'-]+\s*(?::|\s[\u2013\u2014-])\s*(?=(?:I|[Mm]y|[Ww]e|[Oo]ur|[Mm]e and)\b)"
)
# "Since I'm lactose intolerant, what can I use instead of milk?": the reason stated is a fact.
_CAUSAL_LEAD = re.compile(r"^(?:since|because|as|given that|now that|considering that)\s+(?=(?:I|[Mm]y)\b)", re.I)
# Sentences that leave out their subject: "Can't stand cilantro", "Worked on the engine of ...".
_ELIDED_PREFIX = {"past": "I ", "ing": "I am ", "base": "I ", "been": "I have "}
_ELIDED_BASE = frozenset("cannot can could would will love hate adore enjoy prefer miss need".split())
_ED_ADJECTIVES = frozenset(
    """excited thrilled tired bored stressed pleased interested surprised amazed relieved blessed stoked worried
    scared inspired impressed touched moved honored honoured delighted glad obsessed hooked thrilled overwhelmed
    shocked stunned amused annoyed confused exhausted used""".split()
)
_GERUND_SUBJECT_NEXT = frozenset(
    "is was are were has makes helps can sounds seems gives keeps brings really must".split()
)
# "I want you to always answer in Spanish" -> "User's standing instruction: always answer in Spanish".
_INSTRUCTION = re.compile(r"^I (?:want|would like|need|prefer|expect) you to (?P<rest>.+)$")
# "We got engaged": "we" is the speaker and their partner.
_COUPLE = re.compile(
    r"^(?:(?:just|finally|recently) )?(?:got|are|were|have been|had been|became) (?:engaged|married|divorced|together)"
    r"|^(?:(?:just|finally|recently) )?(?:split up|broke up|divorced|married|started dating|are dating|eloped)\b"
)
_COUPLE_SUBJECT = "{name} and their partner"
# Something said about the speaker as an object: "The support group has made me feel accepted".
_ME_MENTION = re.compile(r"^(?:The|This|That|Our|His|Her|Their|[A-Z][a-z]+'s)\s+[\w' -]+?\b(?:me|myself)\b(?!\s+know)")
# A named speaker's other statements: kept as said when they hold this many content words, unless
# they open with one of these (reactions, small talk).
_SAID_MIN_CONTENT_WORDS = 4
_SAID_NOT_STARTS = frozenset(
    """wow oh ah aw aww haha lol omg yay yeah yes no nope ok okay sure cool nice great awesome amazing congrats
    congratulations thanks thank sorry hey hi hello bye good glad happy totally absolutely definitely exactly
    same me what how why who when where which let's let please hope""".split()
)
# Addressing someone by name: "Hey Mel!", "Thanks, Caroline!", "That's great, Jon."
_VOCATIVE = re.compile(
    r"(?:^|[.!?]\s+)(?i:hey|hi|hello|thanks|thank you|wow|yeah|yes|oh|congrats|congratulations|aw+|haha|ok|okay|"
    r"sure|way to go|good (?:morning|evening|night)|sorry|great|cool|awesome|nice|bye|see you)\s*,?\s+"
    r"(?P<name>[A-Z][a-z]+)\s*[!.,?]"
    r"|,\s*(?P<after_comma>[A-Z][a-z]+)\s*[!.?](?:\s|$)"
)
_NOT_VOCATIVES = frozenset(
    "i god man dude bro guys everyone everybody all buddy friend sir madam mom dad mum honey dear babe".split()
)
# Words pointing outside the clause; a fact whose pointer has nothing to point at is dropped.
_POINTERS = frozenset("it that this those these them there".split())
_EXISTENTIAL_THERE = re.compile(r"\bthere (?:is|are|was|were|will be|has been|have been)\b", re.I)
_ANTECEDENT = re.compile(r"\b(?:a|an|the|their|his|her|its|some|my|our|\d+)\b|(?<!^)\b[A-Z][a-z]+", re.UNICODE)
_POINTER_TAIL = frozenset(
    """so much very really too again now then today tonight tomorrow yesterday soon later a lot lots always still
    in on at of for the week weekend month year night morning evening afternoon last next this every day anymore
    all more than ever""".split()
)
# An assistant restating the user: the fact is taken as the user's own words.
_RESTATEMENTS = (
    re.compile(
        r"\b[Yy]ou (?:mentioned|said|told me|noted|shared|let me know|indicated)(?: (?:earlier|before|previously))?"
        r"(?: that)? (?P<fact>(?:you|your)\b.+)$"
    ),
    re.compile(r"^(?:[Ss]ince|[Bb]ecause|[Aa]s|[Gg]iven that|[Nn]ow that) (?P<fact>(?:you|your)\b[^,]+)"),
)
_SECOND_TO_FIRST = {
    "you are": "I am", "you were": "I was", "you have": "I have", "you": "I", "your": "my", "yours": "mine",
    "yourself": "myself",
}  # fmt: skip
_SECOND_PERSON = re.compile(r"\b(?:you are|you were|you have|yourself|yours|your|you)\b", re.IGNORECASE)
_YOU = re.compile(r"\b(?:you|your|yours|yourself|yourselves)\b", re.IGNORECASE)
_IS_PROPER = re.compile(r"^(?:User|Assistant) (?:is|was) (?:not )?[A-Z]")
_NEGATION = re.compile(r"\b(?:not|never|no longer|no more|cannot)\b")


# --------------------------------------------------------------------------------------------------
# Speakers


@dataclass(frozen=True)
class _Speaker:
    name: str  # "User" / "Assistant"
    pronoun: str  # embedded subject "I" when the clause subject is the speaker
    pronoun_plural: bool  # "they" takes plural verbs, "it" takes 3rd-singular
    possessive: str  # embedded "my"
    object: str  # embedded "me"
    reflexive: str  # "myself"
    absolute: str  # "mine"
    other: str | None  # who "you" is; None: unknown (a clause about "you" is dropped)
    agent: bool = False  # the assistant speaking about itself (agent-scoped adds)
    group: str = "{name} and family"  # what "we" becomes (plural verbs stay plural)


_GROUP_PRONOUNS = {"we": "they", "our": "their", "ours": "theirs", "us": "them", "ourselves": "themselves"}
_USER = _Speaker("User", "they", True, "their", "them", "themselves", "theirs", None)
_ASSISTANT = _Speaker("Assistant", "it", False, "its", "it", "itself", "its own", "the user", agent=True)
_NAME_OK = re.compile(r"^[^\W\d_](?:[^\W\d_]|['.-])*(?: [^\W\d_](?:[^\W\d_]|['.-])*){0,3}$")
_RESERVED_NAMES = frozenset("user assistant system human ai bot me you i we".split())


def _speaker_name(name: str | None) -> str | None:
    """A message's ``name`` usable as a subject ("Caroline"), or None ("user_42", "", "assistant")."""
    name = (name or "").strip()
    if not name or len(name) > 40 or not _NAME_OK.match(name) or name.lower() in _RESERVED_NAMES:
        return None
    return name[0].upper() + name[1:]


def _user_speaker(name: str | None, other: str | None) -> _Speaker:
    if name is None:
        return replace(_USER, other=other)
    return replace(_USER, name=name, other=other)


# --------------------------------------------------------------------------------------------------
# Public entry point


class TooManyFacts(ValueError):
    """More distinct facts than ``max_facts``: raised as soon as one more is found (the rest of the
    messages are not read)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the messages hold more than {limit} facts")
        self.limit = limit


def extract_facts(
    messages: Sequence[Message],
    *,
    observed_at: datetime,
    agent_scoped: bool = False,
    includes: str | None = None,
    excludes: str | None = None,
    max_facts: int | None = None,
) -> list[Fact]:
    """Self-contained third-person facts stated in ``messages``, in order, each text once.

    User messages always count; assistant messages only when ``agent_scoped`` (facts about the
    assistant itself, starting with "Assistant"); system and other roles never. Relative dates are
    resolved against ``observed_at`` (its own local date). ``includes``/``excludes`` are comma
    separated topic words: a fact is kept only if it mentions an include word (prefix match on word
    stems, case-insensitive; the leading "User"/"Assistant" subject does not count) and none of the
    exclude words. A blank string means no filter. ``max_facts``: raise :class:`TooManyFacts` once
    more distinct facts than that are found (before ``includes``/``excludes`` apply), or ten times as
    many statements of facts, repeats included.
    """
    today = observed_at.date()
    include_words = _keywords(includes)
    exclude_words = _keywords(excludes)
    facts: list[Fact] = []
    found: set[str] = set()
    stated = 0
    names = [_speaker_name(message.name) for message in messages]
    others = _other_speakers(names)
    addressees = _addressees(messages, names)
    context = _Context()
    for position, message in enumerate(messages):
        role = (message.role or "").strip().lower()
        if role == "user":
            other = others[position] or _vocative(message.content, names[position])
            speaker = _user_speaker(names[position], other)
            content = message.content
        elif role == "assistant" and agent_scoped:
            speaker = _ASSISTANT
            content = message.content
        elif role == "assistant":
            # Only what the assistant restates about the user ("You mentioned you're vegan").
            speaker = _user_speaker(addressees[position], None)
            content = _restated(message.content)
            if not content:
                continue
            role = "user"
        else:
            continue
        before = list(facts)
        for text, kind, negated in _message_facts(content, speaker, today, facts, role, context):
            sources = (position,)
            if kind == "correction":
                # The corrected fact (dropped from ``facts`` by the correction) said the rest of it.
                kept = {id(fact) for fact in facts}
                sources = _merged(*(fact.sources for fact in before if id(fact) not in kept), sources)
            facts.append(Fact(text=text, role=role, kind=kind, negated=negated, sources=sources))
            before = list(facts)
            found.add(text)
            stated += 1
            # Repeats count too, up to 10x: a correction looks back over the facts stated before it,
            # so their number bounds the work as well.
            if max_facts is not None and (len(found) > max_facts or stated > 10 * max_facts):
                raise TooManyFacts(max_facts)
    said_in: dict[str, tuple[int, ...]] = {}
    for fact in facts:
        said_in[fact.text] = _merged(said_in.get(fact.text, ()), fact.sources)
    seen: set[str] = set()
    result = []
    for fact in facts:
        if fact.text in seen:
            continue
        seen.add(fact.text)
        fact = replace(fact, sources=said_in[fact.text])
        if include_words is not None and not _mentions(fact.text, include_words):
            continue
        if exclude_words and _mentions(fact.text, exclude_words):
            continue
        result.append(fact)
    return result


def _merged(*positions: tuple[int, ...]) -> tuple[int, ...]:
    """Message positions, each once, in order."""
    return tuple(sorted({position for group in positions for position in group}))


# --------------------------------------------------------------------------------------------------
# Pipeline


@dataclass
class _Context:
    """What earlier messages of the same add said that later ones may point back to."""

    place: str | None = None  # the last place named, for a later "there"


def _other_speakers(names: list[str | None]) -> list[str | None]:
    """Who "you" is in each message: the nearest other named speaker of the conversation (linear:
    the two most recent distinct names on each side are enough to find one that is not its own)."""

    def nearest(order: range) -> dict[int, list[tuple[int, str]]]:
        recent: list[tuple[int, str]] = []  # (index, name), most recent first, distinct names, at most 2
        seen: dict[int, list[tuple[int, str]]] = {}
        for index in order:
            seen[index] = list(recent)
            if names[index]:
                recent = [(index, names[index])] + [item for item in recent if item[1] != names[index]][:1]
        return seen

    left, right = nearest(range(len(names))), nearest(range(len(names) - 1, -1, -1))
    result: list[str | None] = []
    for index, own in enumerate(names):
        found = [item for item in left[index] + right[index] if item[1] != own]
        result.append(min(found, key=lambda item: abs(item[0] - index))[1] if found else None)
    return result


def _vocative(content: str, own: str | None) -> str | None:
    """The person a message addresses by name ("Hey Mel!", "Thanks, Caroline!"): who "you" is."""
    for match in _VOCATIVE.finditer(content):
        name = match.group("name") or match.group("after_comma")
        if name.lower() not in _NOT_VOCATIVES and name != own:
            return name
    return None


def _addressees(messages: Sequence[Message], names: list[str | None]) -> list[str | None]:
    """The user each message would speak to: the name of the nearest named user message."""
    named = [
        index
        for index, message in enumerate(messages)
        if (message.role or "").strip().lower() == "user" and names[index]
    ]
    result: list[str | None] = []
    cursor = 0
    for position in range(len(messages)):
        while cursor + 1 < len(named) and abs(named[cursor + 1] - position) <= abs(named[cursor] - position):
            cursor += 1
        result.append(names[named[cursor]] if named else None)
    return result


def _restated(content: str) -> str:
    """An assistant message's restatements of the user ("You mentioned you're allergic to nuts",
    "Since you're vegan, ...") turned into first-person sentences; "" when there are none."""
    found = []
    text = _prepare(content)
    for sentence in _sentences(text):
        for pattern in _RESTATEMENTS:
            if m := pattern.search(sentence):
                found.append(_second_to_first(m.group("fact")).strip(" ,") + ".")
                break
    return " ".join(found)


def _second_to_first(text: str) -> str:
    return _SECOND_PERSON.sub(lambda m: _keep_case(m.group(), _SECOND_TO_FIRST[m.group().lower()]), text)


def _message_facts(content: str, speaker: _Speaker, today: date, earlier: list[Fact], role: str, context: _Context):
    text = _prepare(content)
    for sentence in _sentences(text):
        for m in _PLACE.finditer(sentence):
            if m.group("place").split()[0].lower() not in _NOT_PLACES:
                context.place = ("at " if m.group("prep") == "at" else "") + m.group("place")
        yield from _sentence_facts(sentence, speaker, today, earlier, role, context.place)


def _prepare(content: str) -> str:
    text = content.translate(_TRANSLATE).replace("\x00", "")
    text = _EMOJI.sub(" ", text)
    text = _LOWER_I.sub("I", text)
    text = _IM.sub("I'm", text)
    text = _I_CONTRACTION.sub(_expand_i, text)
    text = _YOU_CONTRACTION.sub(
        lambda m: f"{m.group(1)} " + {"re": "are", "ve": "have", "ll": "will", "d": "would"}[m.group(2).lower()],
        text,
    )
    text = _WE_CONTRACTION.sub(
        lambda m: f"{m.group(1)} " + {"re": "are", "ve": "have", "ll": "will", "d": "would"}[m.group(2).lower()],
        text,
    )
    text = _NEG_CONTRACTION.sub(_expand_negation, text)
    text = _SLANG_RE.sub(lambda m: _keep_case(m.group(1), _SLANG[m.group(1).lower()]), text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def _expand_i(match: re.Match[str]) -> str:
    suffix = match.group(1).lower()
    if suffix == "d":
        following = (match.group(2) or "").strip().lower()
        had = following in {"been", "already", "never", "just", "better", "gone", "done", "seen", "had"} or (
            following.endswith("ed") and following not in _ED_BASE
        )
        return "I had" if had else "I would"
    return "I " + {"m": "am", "ve": "have", "ll": "will"}[suffix]


def _expand_negation(match: re.Match[str]) -> str:
    word = match.group(1)
    lower = word.lower()
    special = {"ca": "cannot", "wo": "will not", "sha": "shall not", "ai": "is not"}
    expanded = special.get(lower, f"{lower} not")
    return _keep_case(word, expanded)


def _keep_case(original: str, replacement: str) -> str:
    return replacement[0].upper() + replacement[1:] if original[:1].isupper() else replacement


def _sentences(text: str) -> list[str]:
    out = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group() == ".":
            previous = _LAST_WORD.search(text, start, match.start())
            if previous:
                word = previous.group(1)
                if word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper() and word != "I"):
                    continue
        segment = text[start : match.end()].strip()
        if segment:
            out.append(segment)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def _sentence_facts(
    sentence: str, speaker: _Speaker, today: date, earlier: list[Fact], role: str, place: str | None = None
):
    sentence = _TRAILING_NOISE.sub(r"\1", sentence).strip()
    is_question = sentence.rstrip(" \"')]").endswith("?")
    sentence = _TRAILING_PUNCT.sub("", sentence)
    sentence, correction = _strip_markers(sentence)
    if not sentence or _THANKS.match(sentence):
        return
    if m := _SUBORDINATE.match(sentence):
        sentence = f"{m.group('main')} {m.group('conj').lower()} {m.group('sub')}"
    clauses = _split_clauses(sentence)
    found = False
    for index, clause in enumerate(clauses):
        if is_question and index == len(clauses) - 1:
            continue
        fact = _clause_fact(clause, speaker, today, correction, earlier, role, place)
        if fact is not None:
            found = True
            yield fact
    if not found and not is_question and speaker.name != "User" and not speaker.agent:
        if said := _said(sentence, speaker, today, place):
            yield said


def _said(sentence: str, speaker: _Speaker, today: date, place: str | None):
    """A named speaker's statement about their world that is not about them in the first person
    ("The transgender stories were so inspiring") kept as what they said, when it carries enough
    content on its own: no "you", no pointer at the start, no question, at least a few content words."""
    sentence = re.sub(r"^(?:and|but|so|also|plus)\s+", "", sentence, flags=re.IGNORECASE)
    if _QUESTION_START.match(sentence) or _THANKS.match(sentence):
        return None
    if speaker.other is None and _YOU.search(sentence):
        return None
    if _SPEAKER_IN_REST.search(sentence):
        return None  # first-person sentences were read (and kept or refused) as such
    words = _WORD.findall(sentence)
    first = words[0].lower().split("'")[0] if words else ""
    if not words or first in _POINTERS or first in _SAID_NOT_STARTS:
        return None
    if words[0].lower().endswith("ing"):
        return None  # "Taking care of ourselves is so important": a truism, not news
    content = [w for w in words if w.lower() not in _FUNCTION_WORDS and w.lower() not in _ADVERBS]
    if len(content) < _SAID_MIN_CONTENT_WORDS or len(words) > 60:
        return None
    if place:
        sentence = _THERE.sub(lambda m: _there(m, place), sentence)
    body, _ = _resolve_dates(sentence, today, past=_clause_is_past(sentence))
    text = _rewrite(body, speaker, lead_is_subject=False, subject_is_speaker=False, past_context=False)
    text = _finish(text)
    if not text or _dangling(text, speaker):
        return None
    return f"{speaker.name} said: {text}", "other", False


def _strip_markers(text: str) -> tuple[str, bool]:
    correction = False
    while True:
        text = _LEADING_PUNCT.sub("", text)
        if m := _LEAD_MARKER.match(text):
            correction = correction or bool(m.group("corr"))
            text = text[m.end() :]
            continue
        if m := _I_MEANT.match(text):
            correction = True
            text = text[m.end() :]
            continue
        if m := _WRAPPER.match(text):
            text = text[m.end() :]
            continue
        if m := _LEAD_IN.match(text):
            text = text[m.end() :]
            continue
        return text.strip(), correction


def _split_clauses(sentence: str) -> list[str]:
    parts = []
    start = 0
    for match in _SPLIT_CANDIDATE.finditer(sentence):
        if match.start() < start:
            continue
        right = sentence[match.end() :]
        conjunction = match.group().strip(" ,")
        ok = _starts_clause(right, bare_comma=not conjunction) or bool(
            _QUESTION_START.match(right) or right.lower().startswith("please ")
        )
        if not ok:
            continue
        left = sentence[start : match.start()].strip()
        if left.lower() in ("i", "me"):
            continue
        if conjunction == "and" and right.startswith("I ") and _COMPOUND_LEFT.match(left) and not left.startswith("I"):
            continue  # "My wife and I live in Porto": one compound subject
        parts.append(left)
        start = match.end()
    parts.append(sentence[start:])
    return [part.strip() for part in parts if part.strip()]


def _starts_clause(right: str, *, bare_comma: bool) -> bool:
    if m := _LEAD_TIME.match(right):
        right = right[m.end() :]
    if right.startswith("I ") or right == "I":
        return True
    if m := _POSSESSIVE_SUBJECT.match(right):
        if bare_comma and not right[:2].lower() == "my":
            return False
        words = m.group("words").split()
        return any(_is_verb_like(word) for word in words[1:4])
    if bare_comma:
        return False
    if _PRONOUN_SUBJECT.match(right):
        # "I love Python and it is my favourite language" stays whole: "it" needs the left part.
        return not _SPEAKER_IN_REST.search(right)
    if m := _NAME_SUBJECT.match(right):
        verb = m.group("verb").lower()
        return verb in _AUX_3SG.values() or verb in _MODALS or verb in _PAST or _is_third_person_verb(verb)
    return False


def _is_verb_like(word: str) -> bool:
    lower = word.lower()
    if lower in {"is", "was", "are", "were", "has", "have", "had", "will", "would", "can", "could", "does", "did"}:
        return True
    if lower in {"do", "should", "must", "may", "might", "cannot"} or lower in _PAST or lower in _VERB_BASE:
        return True
    if lower.endswith("ed") and lower not in _ED_BASE and lower not in {"named", "called"}:
        return True
    return _is_third_person_verb(lower)


def _is_third_person_verb(word: str) -> bool:
    if not word.endswith("s"):
        return False
    for base in (word[:-1], word[:-2], word[:-3] + "y" if word.endswith("ies") else ""):
        if base in _VERB_BASE:
            return True
    return word in {"has", "does", "goes"}


# --------------------------------------------------------------------------------------------------
# One clause -> one fact


def _clause_fact(
    clause: str,
    speaker: _Speaker,
    today: date,
    correction: bool,
    earlier: list[Fact],
    role: str,
    place: str | None = None,
):
    clause, more_correction = _strip_markers(_TRAILING_PUNCT.sub("", clause))
    correction = correction or more_correction
    if not clause or _QUESTION_START.match(clause) or _THANKS.match(clause):
        return None
    if m := _LEAD_FREQUENCY.match(clause):
        clause = f"I {m.group('adv').lower()} {clause[m.end() :]}"
    elif m := _LEAD_TIME.match(clause):
        adverbial = m.group("adv")
        if adverbial.split()[0].lower() not in _WEEKDAYS:
            adverbial = adverbial[0].lower() + adverbial[1:]
        clause = f"{clause[m.end() :]} {adverbial}"

    clause = _CAUSAL_LEAD.sub("", clause)
    clause = _elided_subject(clause)
    if place:
        clause = _THERE.sub(lambda m: _there(m, place), clause)
    if not speaker.agent:
        if m := _CALL_ME.match(clause):
            return f"{speaker.name} prefers to be called {m.group('name')}", "preference", False
        if (m := _I_AM_NAME.match(clause)) and not _is_demonym(m.group("name")):
            return f"{speaker.name}'s name is {m.group('name')}", "biography", False
    if not speaker.agent and (m := _INSTRUCTION.match(clause)) and _STANDING.search(clause):
        rest = m.group("rest")
        if not _YOU.search(rest):
            return f"{speaker.name}'s standing instruction: {rest}", "preference", False
    if speaker.other is None and _YOU.search(clause):
        return None  # "you" is nobody we can name: never "the assistant"
    group = None
    if not speaker.agent and re.match(r"^(?:We|we) ", clause):
        couple = _COUPLE.match(clause[3:])
        group = (_COUPLE_SUBJECT if couple else speaker.group).format(name=speaker.name)
        clause = "\x01" + clause[2:]
    elif not speaker.agent and re.match(r"^(?:Our|our) ", clause):
        clause = "My" + clause[3:]

    mode = "group" if group else _subject_mode(clause, speaker)
    if mode is None:
        if correction:
            return _correct_earlier(clause, earlier, role)
        return None
    if mode == "speaker" and not _worth_keeping(clause, speaker):
        return None

    if mode == "group" and not _has_content("We" + clause[1:]):
        return None
    past_context = bool(_PAST_HINT.search(clause))
    compound = None
    body = clause
    if mode == "compound":
        m = _COMPOUND.match(clause)
        partner = re.sub(r"\b[Mm]y\b", speaker.possessive, m.group("a") or m.group("b"))
        compound = f"{speaker.name} and {partner}"
        body = "\x00" + clause[m.end() :]
    body, future = _resolve_dates(body, today, past=_clause_is_past(clause))
    text = _rewrite(
        body,
        speaker,
        lead_is_subject=mode == "speaker",
        subject_is_speaker=mode in ("speaker", "compound", "group"),
        past_context=past_context,
        group=compound is not None or group is not None,
    )
    if compound is not None:
        text = text.replace("\x00", compound)
    if group is not None:
        text = text.replace("\x01", group)
    text = _finish(text)
    if not text or _dangling(text, speaker):
        return None
    if correction or re.match(r"^I actually\b", clause):
        text = _finish(_apply_not_tail(text, earlier)) or text
        kind = "correction"
    else:
        kind = _classify(_as_user(text, speaker), future)
    return text, kind, _is_negated(text)


def _as_user(text: str, speaker: _Speaker) -> str:
    """The fact with its named subject read as "User" (the kind patterns speak of "User")."""
    if speaker.agent or speaker.name == "User" or not text.startswith(speaker.name):
        return text
    return "User" + text[len(speaker.name) :]


def _elided_subject(clause: str) -> str:
    """ "Can't stand cilantro" -> "I cannot stand cilantro"; "Worked on the engine" -> "I worked ..."."""
    words = clause.split()
    if not words or not words[0][:1].isupper() or words[0] == "I":
        return clause
    index = 0
    while index < len(words) - 1 and (words[index].lower() in _ADVERBS or _is_ly_adverb(words[index].lower())):
        index += 1
    first = words[index].lower().strip(",")
    following = words[index + 1].lower() if index + 1 < len(words) else ""
    if first in _ED_ADJECTIVES or first in _NON_SUBJECT_STARTS or first in _IMPERATIVES - {"made", "took", "got"}:
        return clause
    if first == "been":
        kind = "been"
    elif first in _PAST or (first.endswith("ed") and len(first) > 4 and first not in _ED_BASE):
        if following in ("by", "to") and first.endswith("ed"):
            return clause  # "Inspired by ...", "Supposed to ..."
        kind = "past"
    elif first in _ELIDED_BASE:
        kind = "base"
    elif first.endswith("ing") and len(first) >= 5 and first not in ("thing", "nothing", "something", "everything"):
        ahead = [word.lower().strip(",") for word in words[index + 1 : index + 9]]
        if following.endswith("s") and following not in ("us", "this") or _GERUND_SUBJECT_NEXT.intersection(ahead):
            return clause  # "Painting is my passion", "Running helps me relax", "Relaxing and ... is key"
        kind = "ing"
    else:
        return clause
    lead = " ".join(words[:index])
    rest = " ".join([words[index][0].lower() + words[index][1:], *words[index + 1 :]])
    return _ELIDED_PREFIX[kind] + (lead.lower() + " " if lead else "") + rest


def _dangling(text: str, speaker: _Speaker) -> bool:
    """True when a pointer ("there", "those", "it") has nothing in the fact to point at."""
    words = _WORD.findall(text)
    lowered = [word.lower() for word in words]
    if "there" in lowered and not _EXISTENTIAL_THERE.search(text):
        return True
    for index in range(len(lowered) - 1, 0, -1):
        if lowered[index] not in _POINTERS:
            continue
        tail = lowered[index + 1 :]
        if all(word in _POINTER_TAIL or word.isdigit() or "-" in word and word[:4].isdigit() for word in tail):
            before = text.split(words[index], 1)[0]
            before = before[len(speaker.name) :] if before.startswith(speaker.name) else before
            return not _ANTECEDENT.search(before)
        return False
    return False


def _there(match: re.Match[str], place: str) -> str:
    """'going there' -> 'going to Japan', 'love it there' -> 'love it in Japan', 'been there' -> 'been at Acme'."""
    if place.startswith("at "):
        return f"{match.group('verb')}{match.group('gap')}{place}"
    preposition = "to" if match.group("verb").lower() in _MOTION_VERBS else "in"
    return f"{match.group('verb')}{match.group('gap')}{preposition} {place}"


def _is_demonym(name: str) -> bool:
    lower = name.lower()
    return lower in _DEMONYMS or lower.endswith(("ese", "ish")) or " " in name and lower.split()[0] in _DEMONYMS


def _subject_mode(clause: str, speaker: _Speaker) -> str | None:
    """How the clause is about the speaker: "speaker" (I ...), "compound" (My wife and I ...),
    "possessive" (My sister ...), "mention" (Sushi is my favourite food), or None (not about them)."""
    if clause.startswith("I ") or clause == "I":
        return "speaker"
    if not speaker.agent and _COMPOUND.match(clause):
        return "compound"
    if _POSSESSIVE_START.match(clause):
        return None if _MY_PHATIC.match(clause) else "possessive"
    if speaker.agent:
        return None
    first = clause.split(" ", 1)[0].lower().strip("\"'")
    if first in _NON_SUBJECT_STARTS and not re.match(r"^it (?:is|was) my\b", clause, re.IGNORECASE):
        return None
    if first in _IMPERATIVES or first == "let's" or first in ("i", "me", "mine", "myself"):
        return None
    if re.search(r"\b(?:my|mine)\b", clause):
        return "mention"
    if _ME_MENTION.match(clause) and len(clause.split()) >= 5:
        return "mention"  # "The support group has made me feel accepted"
    return None


def _worth_keeping(clause: str, speaker: _Speaker) -> bool:
    if speaker.agent:
        return not _AGENT_PHATIC.match(clause) and _has_content(clause)
    if _PHATIC_I.match(clause) or _TRANSIENT_RE.match(clause) or _REQUEST_THING.match(clause):
        return False
    if _REQUEST_TO_KNOW.match(clause) and not _STANDING.search(clause):
        return False
    if m := _HEDGE.match(clause):
        if not _SPEAKER_IN_REST.search(m.group("rest")):
            return False
    return _has_content(clause)


def _has_content(clause: str) -> bool:
    """False for clauses with nothing self-contained after the verb: "I love it", "I'll try that"."""
    words = _WORD.findall(clause)[1:]
    index = 0
    chain: list[str] = []
    while index < len(words):
        lower = words[index].lower()
        if lower in _ADVERBS or lower == "not" or _is_ly_adverb(lower):
            index += 1
        elif lower in _AUX_3SG or lower in _MODALS or lower in {"be", "been", "does", "did", "had", "has"}:
            chain.append(lower)
            index += 1
        else:
            break
    rest = words[index:]
    if rest and (rest[0].lower() in _HABIT_VERBS or rest[0].lower().removesuffix("s") in _HABIT_VERBS):
        return True  # "I smoke", "I no longer meditate": the activity is the fact
    if chain == ["do"] and rest and rest[0].lower() not in _VERB_BASE:
        return True  # "I do yoga"
    if not any(word in {"am", "is", "are", "was", "were", "be", "been", "have", "has", "had"} for word in chain):
        rest = rest[1:]  # the lexical verb itself
    return any(word.lower() not in _FUNCTION_WORDS for word in rest)


def _is_ly_adverb(word: str) -> bool:
    return len(word) > 4 and word.endswith("ly") and word not in _LY_VERBS


# --------------------------------------------------------------------------------------------------
# Rewriting into the third person


def _rewrite(
    text: str,
    speaker: _Speaker,
    *,
    lead_is_subject: bool,
    subject_is_speaker: bool,
    past_context: bool,
    group: bool = False,
) -> str:
    tokens = _TOKEN.findall(text)
    out = list(tokens)
    lead_pending = lead_is_subject
    coordinate = False  # conjugate "and <verb>" after a 3rd-person lexical verb ("lives ... and works")
    index = 0
    while index < len(tokens):
        token = tokens[index]
        lower = token.lower()
        if token == "I":
            if lead_pending:
                lead_pending = False
                out[index] = speaker.name
                index, coordinate = _conjugate_after(tokens, out, index, past_context, plural=False)
                continue
            if subject_is_speaker:
                out[index] = speaker.pronoun
                index, _ = _conjugate_after(tokens, out, index, past_context, plural=speaker.pronoun_plural)
            else:
                out[index] = speaker.name
                index, _ = _conjugate_after(tokens, out, index, past_context, plural=False)
            continue
        if lower == "you":
            out[index] = speaker.other
            verb_index = _next_word(tokens, index)
            if verb_index is not None:
                verb = tokens[verb_index].lower()
                if verb in ("are", "were", "have", "do") or verb in _VERB_BASE:
                    out[verb_index] = _AUX_3SG.get(verb) or _third_person(verb)
        elif lower in ("your", "yours"):
            out[index] = f"{speaker.other}'s"
        elif lower in ("yourself", "yourselves"):
            out[index] = "itself" if not speaker.agent else "themselves"
        elif lower == "my":
            own = subject_is_speaker and index > 0
            out[index] = speaker.possessive if own else f"{speaker.name}'s"
        elif token == "me":
            out[index] = speaker.object if subject_is_speaker else speaker.name
        elif lower == "myself":
            out[index] = speaker.reflexive if subject_is_speaker else speaker.name
        elif lower == "mine":
            out[index] = speaker.absolute if subject_is_speaker else f"{speaker.name}'s"
        elif group and lower in _GROUP_PRONOUNS:
            out[index] = _GROUP_PRONOUNS[lower]
        elif lower in ("to", "not", "never") or lower in _MODALS:
            coordinate = False
        elif coordinate and lower in ("and", "or"):
            verb_index = _next_word(tokens, index)
            if verb_index is not None and tokens[verb_index] in _VERB_BASE:
                out[verb_index] = _third_person(tokens[verb_index])
                index = verb_index
        index += 1
    return "".join(out)


def _next_word(tokens: list[str], index: int) -> int | None:
    index += 1
    while index < len(tokens) and tokens[index].isspace():
        index += 1
    if index < len(tokens) and tokens[index][:1].isalpha():
        return index
    return None


def _conjugate_after(tokens: list[str], out: list[str], index: int, past_context: bool, *, plural: bool):
    """Conjugate the verb after an "I" (skipping adverbs) at tokens[index]; return (next index, coordinate)."""
    cursor = index
    while True:
        nxt = _next_word(tokens, cursor)
        if nxt is None:
            return index + 1, False
        lower = tokens[nxt].lower()
        if lower in _ADVERBS or _is_ly_adverb(lower):
            cursor = nxt
            continue
        break
    verb = tokens[nxt]
    if plural:
        out[nxt] = _AUX_PLURAL.get(lower, verb) if lower in ("am", "was") else verb
        return nxt + 1, False
    if lower in _AUX_3SG:
        out[nxt] = _AUX_3SG[lower]
        lexical = lower in ("am", "are", "have")
        return nxt + 1, lexical
    if lower in _MODALS or lower in _PAST or (lower.endswith("ed") and lower not in _ED_BASE):
        return nxt + 1, False
    if lower in _AMBIGUOUS_PAST and past_context:
        return nxt + 1, False
    if verb.isalpha() and verb.isupper() and len(verb) > 1:
        out[nxt] = _third_person(lower).upper()  # "I LOVE PIZZA"
        return nxt + 1, False
    if not verb.isalpha() or not verb.islower():
        return nxt + 1, False
    out[nxt] = _third_person(lower)
    return nxt + 1, lower not in _PREFERENCE_VERBS


def _third_person(verb: str) -> str:
    special = {"have": "has", "be": "is", "do": "does", "go": "goes"}
    if verb in special:
        return special[verb]
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if verb.endswith("y") and len(verb) > 1 and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _finish(text: str) -> str:
    text = _SPACES.sub(" ", text).strip()
    text = _TRAILING_PUNCT.sub("", text)
    text = _LEADING_PUNCT.sub("", text)
    if not text:
        return ""
    return text[0].upper() + text[1:]


# --------------------------------------------------------------------------------------------------
# Corrections


def _correct_earlier(clause: str, earlier: list[Fact], role: str):
    """'No, I meant Lisbon, not Porto' rewrites the earlier fact of this call that mentions Porto."""
    clause = _CORRECTION_FILLER.sub("", clause)
    m = _CORRECTION_PAIR.match(clause)
    if not m:
        return None
    new, old = m.group("new").strip(), m.group("old").strip()
    pattern = re.compile(r"\b" + re.escape(old) + r"\b", re.IGNORECASE)
    for position in range(len(earlier) - 1, -1, -1):
        fact = earlier[position]
        if fact.role == role and pattern.search(fact.text):
            del earlier[position]
            return pattern.sub(new, fact.text), "correction", fact.negated
    return None


def _apply_not_tail(text: str, earlier: list[Fact]) -> str:
    """'User is 35, not 34': drop the earlier fact about 34 and keep 'User is 35'."""
    m = _NOT_TAIL.search(text)
    if not m:
        return text
    pattern = re.compile(r"\b" + re.escape(m.group("old").strip()) + r"\b", re.IGNORECASE)
    replaced = False
    for position in range(len(earlier) - 1, -1, -1):
        if pattern.search(earlier[position].text):
            del earlier[position]
            replaced = True
    return text[: m.start()] if replaced else text


# --------------------------------------------------------------------------------------------------
# Dates


def _clause_is_past(clause: str) -> bool:
    return bool(_PAST_HINT.search(clause)) or _first_verb_is_past(clause)


def _resolve_dates(clause: str, today: date, *, past: bool) -> tuple[str, bool]:
    future = False

    def replace(match: re.Match[str]) -> str:
        nonlocal future
        if _EVERY_BEFORE.search(clause, 0, match.start()):
            return match.group()
        resolved = _resolve_one(match, today, past)
        if resolved is None:
            return match.group()
        phrase, lead, when = resolved
        if when > today:
            future = True
        prep = match.group("prep")
        return f"{prep} {phrase}" if prep else f"{lead} {phrase}"

    return _DATE.sub(replace, clause), future


def _first_verb_is_past(clause: str) -> bool:
    words = _WORD.findall(clause)
    for word in words[1:6]:
        lower = word.lower()
        if lower in _ADVERBS or _is_ly_adverb(lower):
            continue
        if lower in ("will", "going", "am", "is", "are", "can", "shall"):
            return False
        if lower in _PAST or lower in ("was", "were", "did", "had"):
            return True
        if lower.endswith("ed") and lower not in _ED_BASE:
            return True
    return False


def _resolve_one(match: re.Match[str], today: date, past: bool) -> tuple[str, str, date] | None:
    g = match.groupdict()
    if g["dby"]:
        return _day(today - timedelta(days=2))
    if g["dat"]:
        return _day(today + timedelta(days=2))
    if g["prel"]:
        offset = {"yesterday": -1, "tomorrow": 1, "this": 0}[g["prel"].lower()]
        day = today + timedelta(days=offset)
        return f"the {g['part'].lower()} of {day.isoformat()}", "on", day
    if g["lastnight"]:
        day = today - timedelta(days=1)
        return f"the night of {day.isoformat()}", "on", day
    if g["tonight"]:
        return f"the evening of {today.isoformat()}", "on", today
    if g["simple"]:
        offset = {"yesterday": -1, "today": 0, "tomorrow": 1}[g["simple"].lower()]
        return _day(today + timedelta(days=offset))
    if g["unit"]:
        rel, unit = g["rel"].lower(), g["unit"].lower()
        step = {"last": -1, "next": 1, "coming": 1, "this": 0}[rel]
        if unit == "week":
            monday = today - timedelta(days=today.weekday()) + timedelta(weeks=step)
            return f"the week of {monday.isoformat()}", "in", monday + timedelta(days=6 if step >= 0 else 0)
        if unit == "weekend":
            saturday = today + timedelta(days=5 - today.weekday()) + timedelta(weeks=step)
            return f"the weekend of {saturday.isoformat()}", "on", saturday
        if unit == "month":
            first = _add_months(today, step)
            return f"{_MONTHS[first.month - 1]} {first.year}", "in", first if step else today
        year = today.year + step
        return str(year), "in", date(year, 12 if step > 0 else 1, 1) if step else today
    if g["season"]:
        return _season(g["srel"].lower(), g["season"].lower(), today)
    if g["wd"]:
        target = _WEEKDAYS.index(g["wd"].lower())
        rel = (g["wrel"] or "").lower()
        ahead = (target - today.weekday()) % 7
        behind = (today.weekday() - target) % 7
        if rel in ("next", "coming"):
            day = today + timedelta(days=ahead or 7)
        elif rel == "last":
            day = today - timedelta(days=behind or 7)
        elif rel == "this":
            day = today - timedelta(days=behind) if past else today + timedelta(days=ahead)
        else:
            day = today - timedelta(days=behind or 7) if past else today + timedelta(days=ahead or 7)
        return _day(day)
    if g["in_n"]:
        return _offset(_NUMBERS.get(g["in_n"].lower()) or int(g["in_n"]), g["in_u"], today, +1)
    if g["ago_n"]:
        return _offset(_NUMBERS.get(g["ago_n"].lower()) or int(g["ago_n"]), g["ago_u"], today, -1)
    return None


def _season(rel: str, name: str, today: date) -> tuple[str, str, date]:
    """'last spring' -> 'spring 2025'; 'next June' -> 'June 2026' (a season or a month, by its start)."""
    month = _SEASON_START.get(name) or _MONTHS.index(name.capitalize()) + 1
    span = 3 if name in _SEASON_START else 1
    if rel == "last":
        year = today.year if month + span <= today.month else today.year - 1
    elif rel in ("next", "coming"):
        year = today.year if month > today.month else today.year + 1
    else:
        year = today.year
    label = name if name in _SEASON_START else name.capitalize()
    return f"{label} {year}", "in", date(year, month, 1)


def _day(day: date) -> tuple[str, str, date]:
    return day.isoformat(), "on", day


def _offset(count: int, unit: str, today: date, sign: int) -> tuple[str, str, date]:
    unit = unit.lower().rstrip("s")
    if unit == "day":
        return _day(today + timedelta(days=sign * count))
    if unit == "week":
        return _day(today + timedelta(weeks=sign * count))
    if unit == "month":
        first = _add_months(today, sign * count)
        return f"{_MONTHS[first.month - 1]} {first.year}", "in", first
    year = today.year + sign * count
    return str(year), "in", date(year, 1, 1) if sign < 0 else date(year, 12, 31)


def _add_months(day: date, months: int) -> date:
    years, month_index = divmod(day.month - 1 + months, 12)
    return date(day.year + years, month_index + 1, 1)


# --------------------------------------------------------------------------------------------------
# Classification and filtering


def _classify(text: str, future: bool) -> str:
    lower = text.lower()
    if m := _OWNED_SUBJECT.match(lower):
        return "relation" if m.group("relation") else "possession"
    for kind, pattern in _KIND_PATTERNS:
        if kind == "relation" and future:
            return "plan"
        if kind == "biography" and _IS_PROPER.match(text):
            return kind  # "User is Italian", "User is Muslim"
        if pattern.search(lower):
            return kind
    return "plan" if future else "other"


def _is_negated(text: str) -> bool:
    head = " ".join(text.split()[:8])
    return bool(_NEGATION.search(head))


def _keywords(spec: str | Iterable[str] | None) -> list[re.Pattern[str]] | None:
    """Topic words -> prefix patterns; None when no topics were given (a blank string counts as none)."""
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    items = re.split(r"[,;\n]", spec) if isinstance(spec, str) else list(spec)
    patterns = []
    for item in items:
        for word in _WORD.findall(str(item).lower()):
            word = word.strip("'-")
            if len(word) < 2 or word in _KEYWORD_STOP:
                continue
            patterns.append(re.compile(r"\b" + re.escape(_stem(word)), re.IGNORECASE))
    return patterns


def _stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3]
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4:
        return word[:-2]
    if word.endswith("es") and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


_SUBJECT_PREFIX = re.compile(r"^(?:User|Assistant)(?:'s)?\s+")


def _mentions(text: str, patterns: list[re.Pattern[str]]) -> bool:
    body = _SUBJECT_PREFIX.sub("", text)
    return any(pattern.search(body) for pattern in patterns)
