"""The built-in extractor's rule tables: word lists and compiled patterns (data: edit these, not the code
that reads them). Every regex is compiled at import."""

from __future__ import annotations

import re

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


def _is_ly_adverb(word: str) -> bool:
    return len(word) > 4 and word.endswith("ly") and word not in _LY_VERBS
