#!/usr/bin/env python3
"""Deterministic generator of simple English short stories.

The text the llmc demo model is trained on (see models/README.md).  Every
story is built from a small vocabulary (characters, places, objects, foods,
actions, feelings) and a handful of plots written as sentence templates, with
pronouns and names kept consistent inside a story.  The output depends only on
the seed and the number of stories: Python's `random.Random(seed)` is stable
across platforms and versions for the calls used here (random(), choice(),
randrange(), sample()).

    python3 storygen.py --seed 1 --stories 8000 -o stories.txt   # the demo model's text

Stories are written one per line (no newline inside a story); a training
script puts an end-of-story token after each line.
"""

import argparse
import random
import sys

GIRLS = ["Lily", "Mia", "Anna", "Sara", "Emma", "Lucy", "Zoe", "Amy", "Ella", "Rose"]
BOYS = ["Tom", "Ben", "Max", "Sam", "Leo", "Jack", "Tim", "Dan", "Finn", "Joe"]
ANIMALS = [  # (kind, name, he/she)
    ("cat", "Kitty", "she"), ("dog", "Spot", "he"), ("bunny", "Hop", "he"),
    ("bird", "Pip", "she"), ("duck", "Quack", "he"), ("mouse", "Squeak", "she"),
    ("frog", "Ribbit", "he"), ("bear", "Fuzzy", "he"), ("fox", "Red", "she"),
    ("pig", "Pinky", "she"),
]
KID_ADJS = ["little", "happy", "kind", "brave", "curious", "shy", "funny", "clever"]
ANIMAL_ADJS = ["little", "happy", "kind", "brave", "curious", "shy", "funny", "fluffy"]
HOMES = [
    "a small house near the woods", "a big house with a red door",
    "a little town by the sea", "a quiet village on a hill",
    "a farm with many animals", "a cozy house in the city",
]
ANIMAL_HOMES = [
    "a hole under a big tree", "a warm nest in the garden",
    "a little house in the forest", "a barn on a farm",
    "a cozy spot by the river",
]
PLACES = [  # (place, "in the park"-style phrase)
    ("park", "in the park"), ("garden", "in the garden"), ("forest", "in the forest"),
    ("beach", "at the beach"), ("farm", "on the farm"), ("lake", "by the lake"),
    ("yard", "in the yard"), ("hill", "on the hill"),
]
COLORS = ["red", "blue", "green", "yellow", "pink", "purple", "shiny", "big", "small", "soft"]
OBJECTS = ["ball", "kite", "box", "hat", "book", "shell", "flower", "toy car", "cup",
           "key", "stone", "drum", "boat", "star", "bell"]
FOODS = ["apple", "cake", "cookie", "sandwich", "pie", "banana", "muffin", "carrot"]
GAMES = ["play tag", "play hide and seek", "build a tower", "draw pictures",
         "sing songs", "run and jump", "read books", "dance"]
LOVES = ["play outside", "run in the grass", "look at the clouds", "read books",
         "sing songs", "draw pictures", "help people", "play with toys",
         "climb trees", "splash in puddles"]
FEELINGS_GOOD = ["happy", "glad", "excited", "proud"]
FEELINGS_BAD = ["sad", "worried", "upset", "scared"]
WEATHER = ["the sun was warm", "the sky was blue", "the wind was soft",
           "there were white clouds in the sky", "the birds were singing"]
SOUNDS = ["a loud noise", "a soft sound", "a funny sound", "a little cry"]
HIDE_SPOTS = ["under the bed", "behind a tree", "under a big leaf", "in the grass",
              "next to the door", "under a rock", "in an old box", "behind the fence"]
HELPERS = [("mom", "she"), ("dad", "he")]
LESSONS = [
    "It is good to share with your friends.",
    "Friends help each other.",
    "It is good to be kind.",
    "Being brave can make a big difference.",
    "It is good to say sorry.",
    "Working together makes things easy.",
]

PRON = {
    "she": {"subj": "she", "obj": "her", "pos": "her"},
    "he": {"subj": "he", "obj": "him", "pos": "his"},
}


def cap(s):
    return s[0].upper() + s[1:]


def article(word):
    return "an" if word[0] in "aeiou" else "a"


class Person:
    def __init__(self, name, gender, kind, adj):
        self.name = name
        self.g = PRON[gender]
        self.kind = kind
        self.adj = adj

    def he(self):
        return self.g["subj"]

    def him(self):
        return self.g["obj"]

    def his(self):
        return self.g["pos"]


class Story:
    def __init__(self, rng):
        self.rng = rng
        self.out = []

    def say(self, text):
        self.out.append(text)

    def pick(self, items):
        return self.rng.choice(items)

    def chance(self, p):
        return self.rng.random() < p

    def text(self):
        return " ".join(self.out)


def make_person(rng, exclude=()):
    while True:
        r = rng.random()
        if r < 0.4:
            p = Person(rng.choice(GIRLS), "she", "girl", rng.choice(KID_ADJS))
        elif r < 0.8:
            p = Person(rng.choice(BOYS), "he", "boy", rng.choice(KID_ADJS))
        else:
            kind, name, g = rng.choice(ANIMALS)
            p = Person(name, g, kind, rng.choice(ANIMAL_ADJS))
        if p.name not in exclude:
            return p


def opening(s, hero):
    home = s.pick(ANIMAL_HOMES if hero.kind not in ("girl", "boy") else HOMES)
    r = s.rng.random()
    if r < 0.6:
        s.say("Once upon a time, there was %s %s %s named %s." %
              (article(hero.adj), hero.adj, hero.kind, hero.name))
    elif r < 0.8:
        s.say("Once upon a time, in %s, there lived %s %s %s named %s." %
              (home, article(hero.adj), hero.adj, hero.kind, hero.name))
        home = None
    else:
        s.say("%s was %s %s %s." % (hero.name, article(hero.adj), hero.adj, hero.kind))
    if home and s.chance(0.5):
        s.say("%s lived in %s." % (cap(hero.he()), home))
    s.say("%s loved to %s." % (cap(hero.he()), s.pick(LOVES)))


def one_day(s):
    r = s.rng.random()
    if r < 0.5:
        return "One day, "
    if r < 0.75:
        return "One sunny morning, "
    return "One afternoon, "


def plot_found(s, hero, friend):
    place, where = s.pick(PLACES)
    color, obj = s.pick(COLORS), s.pick(OBJECTS)
    s.say("%s%s went to the %s. %s" %
          (one_day(s), hero.name, place, cap(s.pick(WEATHER)) + "."))
    s.say("%s saw something %s the grass. It was %s %s %s!" %
          (cap(hero.he()), s.pick(["in", "under", "near"]), article(color), color, obj))
    s.say('"Wow, what a nice %s!" said %s.' % (obj, hero.name))
    s.say("%s picked up the %s and ran to %s friend %s." % (cap(hero.he()), obj, hero.his(), friend.name))
    s.say('"Look what I found!" %s said.' % hero.he())
    if s.chance(0.5):
        s.say('%s smiled. "Can we play with it together?" %s asked.' % (friend.name, friend.he()))
        s.say('"Yes, let\'s play!" said %s.' % hero.name)
        s.say("They played with the %s all day %s." % (obj, where))
        s.say("%s and %s were very %s." % (hero.name, friend.name, s.pick(FEELINGS_GOOD)))
        s.say(s.pick(LESSONS[:2]) if s.chance(0.5) else "They had a lot of fun.")
    else:
        s.say('"I think it belongs to someone," said %s.' % friend.name)
        s.say("They looked around and saw a little %s who looked %s." %
              (s.pick(["boy", "girl"]), s.pick(FEELINGS_BAD)))
        s.say('"Is this your %s?" asked %s.' % (obj, hero.name))
        s.say('"Yes! Thank you!" said the child, and gave %s a big hug.' % hero.him())
        s.say("%s felt %s. %s" % (hero.name, s.pick(FEELINGS_GOOD), s.pick(LESSONS[2:3] + ["Helping others feels good."])))


def plot_lost(s, hero, friend):
    color, obj = s.pick(COLORS), s.pick(OBJECTS)
    s.say("%s had %s %s %s. It was %s favorite toy." %
          (hero.name, article(color), color, obj, hero.his()))
    s.say("%slost the %s." % ("One day, %s " % hero.he(), obj))
    s.say("%s looked everywhere, but %s could not find it." % (cap(hero.he()), hero.he()))
    s.say("%s was very %s and started to cry." % (hero.name, s.pick(FEELINGS_BAD)))
    s.say('%s came and asked, "Why are you %s?"' % (friend.name, s.pick(["sad", "crying"])))
    s.say('"I lost my %s," said %s.' % (obj, hero.name))
    s.say('"Don\'t worry, I will help you," said %s.' % friend.name)
    spot = s.pick(HIDE_SPOTS)
    s.say("They looked %s and %s." % (s.pick(HIDE_SPOTS), s.pick(HIDE_SPOTS)) if s.chance(0.5)
          else "They looked in the house and in the yard.")
    s.say("At last, %s found the %s %s!" % (friend.name, obj, spot))
    s.say('"Here it is!" %s said.' % friend.he())
    s.say("%s was so %s. %s gave %s a big hug." % (hero.name, s.pick(["happy", "glad"]), cap(hero.he()), friend.name))
    s.say('"Thank you, %s. You are a good friend," said %s.' % (friend.name, hero.name))
    if s.chance(0.5):
        s.say("From that day on, %s kept the %s in a safe place." % (hero.name, obj))


def plot_rain(s, hero, friend):
    place, where = s.pick(PLACES)
    game = s.pick(GAMES)
    s.say("%s%s and %s went to the %s to %s." % (one_day(s), hero.name, friend.name, place, game))
    s.say("They were having a lot of fun.")
    s.say("Then, the sky turned dark and it started to rain.")
    s.say('"Oh no!" said %s. "We will get wet!"' % s.pick([hero.name, friend.name]))
    s.say("They ran home as fast as they could.")
    food = s.pick(FOODS)
    helper, _ = s.pick(HELPERS)
    s.say("At home, %s's %s gave them %s %s and a warm towel." % (hero.name, helper, article(food), food))
    s.say("They sat by the window and watched the rain.")
    s.say("%s said, \"Let's %s inside!\"" % (friend.name, s.pick(GAMES)))
    s.say("Soon the rain stopped and the sun came out.")
    s.say("They saw a big rainbow in the sky. It was so pretty!")
    s.say("%s and %s smiled. It was a good day." % (hero.name, friend.name))


def plot_help(s, hero, friend):
    place, where = s.pick(PLACES)
    s.say("%s%s was playing %s." % (one_day(s), hero.name, where))
    s.say("%s heard %s. It was %s!" % (cap(hero.he()), s.pick(SOUNDS), friend.name))
    problem = s.rng.randrange(3)
    if problem == 0:
        s.say("%s was stuck in a tree and could not get down." % friend.name)
        s.say('"Help me, please!" %s cried.' % friend.he())
        s.say("%s was %s, so %s found a long stick." % (hero.name, s.pick(["brave", "kind", "clever"]), hero.he()))
        s.say("%s helped %s climb down, one step at a time." % (cap(hero.he()), friend.name))
        lesson = s.pick(["Being brave can make a big difference.", "Friends help each other."])
    elif problem == 1:
        color, obj = s.pick(COLORS), s.pick(OBJECTS)
        s.say("%s's %s %s fell into the water." % (friend.name, color, obj))
        s.say('"My %s!" %s cried. "I can not get it!"' % (obj, friend.he()))
        s.say("%s had an idea. %s used a big net to get the %s out." % (hero.name, cap(hero.he()), obj))
        s.say("%s gave the %s back to %s." % (cap(hero.he()), obj, friend.name))
        lesson = s.pick(["Friends help each other.", "Working together makes things easy."])
    else:
        food = s.pick(FOODS)
        s.say("%s was very hungry, but %s had no food." % (friend.name, friend.he()))
        s.say("%s had %s %s in %s bag." % (hero.name, article(food), food, hero.his()))
        s.say('"Here, you can have half of my %s," said %s.' % (food, hero.name))
        s.say("They sat %s and ate the %s together." % (where, food))
        lesson = s.pick(["It is good to share with your friends.", "It is good to be kind."])
    s.say('"Thank you, %s!" said %s. "You are my best friend."' % (hero.name, friend.name))
    s.say("%s felt %s. %s" % (hero.name, s.pick(FEELINGS_GOOD), lesson))


def plot_trip(s, hero, friend):
    helper, _ = s.pick(HELPERS)
    place, where = s.pick(PLACES)
    s.say("%s%s and %s %s went to the %s." % (one_day(s), hero.name, hero.his(), helper, place))
    s.say("%s. %s was very %s." % (cap(s.pick(WEATHER)), hero.name, s.pick(["excited", "happy", "glad"])))
    seen = s.rng.sample([a for a in ANIMALS if a[1] != hero.name], 2)
    s.say("%s saw %s %s and %s %s." % (cap(hero.he()), article(seen[0][0]), seen[0][0],
                                        article(seen[1][0]), seen[1][0]))
    s.say("The %s said hello, and %s waved back." % (seen[0][0], hero.name))
    food = s.pick(FOODS)
    s.say("Then they sat down and ate %s %s." % (article(food), food))
    s.say('"This is the best %s ever!" said %s.' % (food, hero.name))
    s.say("%s met %s, and they played %s until the sun went down." % (cap(hero.he()), friend.name, where))
    s.say("At night, %s was tired but %s." % (hero.name, s.pick(FEELINGS_GOOD)))
    s.say('"Can we come back tomorrow?" %s asked. %s %s laughed and said, "Yes, we can."' %
          (hero.he(), cap(hero.his()), helper))


PLOTS = [plot_found, plot_lost, plot_rain, plot_help, plot_trip]


def story(rng):
    s = Story(rng)
    hero = make_person(rng)
    friend = make_person(rng, exclude=(hero.name,))
    opening(s, hero)
    rng.choice(PLOTS)(s, hero, friend)
    if s.chance(0.3):
        s.say("The end.")
    return s.text()


def generate(seed, n):
    rng = random.Random(seed)
    return [story(rng) for _ in range(n)]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--stories", type=int, default=20000)
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    a = p.parse_args(argv)
    text = "\n".join(generate(a.seed, a.stories)) + "\n"
    if a.output:
        with open(a.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
